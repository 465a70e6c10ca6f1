//! Twilio's error codes an on-call bridge meets, with what they mean and what to do, as
//! Twilio's Debugger shows them. Every telephony error kaden sees is stored with its
//! code, so `kaden errors`, `GET /api/v1/telephony/errors` and the metric explain it.

/// Where an error was seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seen {
    /// Twilio's REST API refused a request (create a call, send an SMS).
    Rest,
    /// A status callback carried an `ErrorCode`.
    Callback,
    /// A webhook came with a missing or wrong signature.
    Signature,
    /// Calls and SMS switched to the fallback account, or back to the primary.
    Fallback,
}

impl Seen {
    pub fn as_str(self) -> &'static str {
        match self {
            Seen::Rest => "rest",
            Seen::Callback => "callback",
            Seen::Signature => "signature",
            Seen::Fallback => "fallback",
        }
    }
}

/// A request refused without a code of Twilio's (network, signature) is stored as 0.
pub const NO_CODE: u32 = 0;

/// (meaning, what to do) for a code, when kaden knows it.
pub fn explain(code: u32) -> Option<(&'static str, &'static str)> {
    Some(match code {
        11200 => (
            "HTTP retrieval failure: Twilio could not fetch kaden's webhook",
            "check that server.public_url reaches kaden from the internet and that kaden answers (kaden doctor)",
        ),
        11205 => (
            "HTTP connection failure to kaden's webhook",
            "check the reverse proxy and TLS in front of kaden",
        ),
        12100 => (
            "TwiML document parse failure",
            "report it: kaden sent TwiML Twilio could not read",
        ),
        13224 => (
            "invalid phone number for a call",
            "fix the user's phone in E.164 (+81...)",
        ),
        13227 => (
            "no international calling permission for this destination",
            "enable the country in Twilio's voice geographic permissions",
        ),
        20003 => (
            "authentication failed",
            "check telephony.twilio.account_sid and auth_token",
        ),
        20005 => (
            "the account is not active (suspended or closed)",
            "check the account's status and billing in Twilio's console",
        ),
        20404 => (
            "the resource was not found",
            "the call or message is unknown to this account",
        ),
        20429 => (
            "too many requests",
            "lower telephony.twilio.calls_per_second; kaden retries with backoff",
        ),
        20500 => (
            "an internal error at Twilio",
            "kaden retries; check Twilio's status page if it persists",
        ),
        21210 => (
            "the From number is not verified for this account",
            "set telephony.twilio.from to a number of the account",
        ),
        21211 => (
            "invalid To phone number",
            "fix the user's phone in E.164 (+81...)",
        ),
        21214 => (
            "the To number cannot be reached",
            "check the user's phone number",
        ),
        21215 => (
            "geographic permission not enabled for this number",
            "enable the country in Twilio's voice geographic permissions",
        ),
        21217 => (
            "the phone number does not appear to be valid",
            "fix the user's phone in E.164 (+81...)",
        ),
        21610 => (
            "the recipient replied STOP to SMS from this number",
            "the person must text START to receive SMS again",
        ),
        30003 => (
            "SMS: unreachable destination handset",
            "the phone is off or out of coverage; the call path still works",
        ),
        30005 => (
            "SMS: unknown destination handset",
            "check the user's phone number",
        ),
        30006 => (
            "SMS: landline or unreachable carrier",
            "give the person a mobile number for SMS",
        ),
        30007 => (
            "SMS filtered by the carrier",
            "shorten the message or register the sender with the carrier",
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_codes_a_bridge_meets_are_explained() {
        for code in [11200, 20003, 20005, 20429, 21211, 21215, 30003] {
            let (meaning, fix) = explain(code).unwrap();
            assert!(!meaning.is_empty() && !fix.is_empty(), "{code}");
        }
        assert_eq!(explain(NO_CODE), None);
    }
}
