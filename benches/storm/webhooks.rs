//! Measure 6: Twilio's webhooks during a live call, signed voice and gather requests →
//! TwiML. The bench plays Twilio: kaden's own simulator runs in the bench with a token the
//! bench knows, kaden (provider twilio) places a call through it, the simulated callee
//! answers and then stays silent on the line, and the bench posts the webhooks Twilio
//! would post for that call, signed as Twilio signs them. The call is about an incident
//! of 1,000 alerts, as in a storm.

use crate::daemon::{Kaden, Phones, RESPONDERS, problem};
use crate::load::{Report, Req, closed_loop};
use crate::{Row, ms};
use kaden::telephony::signature;
use kaden::telephony::simulator::{ACCOUNT_SID, Behaviour, Simulator};
use std::time::Duration;

const REQUESTS: u64 = 500;
const INCIDENT_ALERTS: u64 = 1_000;

/// The call the bench drives.
struct LiveCall {
    id: String,
    sid: String,
    to: String,
}

pub async fn webhooks() -> Vec<Row> {
    let token = format!("{:032x}", fastrand::u128(..));
    // Each callee picks up and then listens for ten minutes without pressing a key.
    let phones = RESPONDERS
        .iter()
        .map(|(_, phone)| (phone.to_string(), Behaviour::HangUp { after_secs: 600 }))
        .collect();
    let simulator = Simulator::new(token.clone(), phones);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let api_base = format!("http://{}/twilio", listener.local_addr().expect("bound"));
    tokio::spawn(axum::serve(listener, simulator.twilio_router::<()>()).into_future());
    let kaden = Kaden::start(&Phones::Twilio {
        api_base,
        token: token.clone(),
    })
    .await;
    // A storm-sized incident: what the callee hears about, and what each webhook's
    // escalation step carries.
    let storm = closed_loop(
        kaden.addr,
        8,
        INCIDENT_ALERTS,
        Duration::from_secs(60),
        problem("web", "high"),
    )
    .await;
    println!(
        "webhooks: {} alerts in the call's incident",
        storm.accepted()
    );
    let Some(call) = answered_call(&kaden).await else {
        println!("webhooks: no call was answered within 10 s; skipped");
        return Vec::new();
    };
    let voice = signed(&kaden, &token, &call, "voice", &[]).await;
    let gather = signed(
        &kaden,
        &token,
        &call,
        "gather",
        &[("Digits", "1"), ("FinishedOnKey", "#")],
    )
    .await;
    let health = closed_loop(kaden.addr, 1, REQUESTS, Duration::from_secs(60), |_| {
        Req::get("/healthz")
    })
    .await;
    let reference = format!(
        "GET /healthz (one commit) p50 {:.1} / p99 {:.1} ms",
        ms(health.latency(50.0)),
        ms(health.latency(99.0))
    );
    [("voice", &voice), ("gather 1#", &gather)]
        .into_iter()
        .map(|(hook, report)| {
            println!(
                "webhook {hook:<9} {REQUESTS} requests: p50 {:.1} ms, p99 {:.1} ms, refused {}; {reference}",
                ms(report.latency(50.0)),
                ms(report.latency(99.0)),
                report.refused()
            );
            Row {
                measure: format!("signed {hook} webhook → TwiML, 1k-alert incident, p50 / p99"),
                kaden: format!(
                    "{:.1} / {:.1} ms",
                    ms(report.latency(50.0)),
                    ms(report.latency(99.0))
                ),
                reference: reference.clone(),
                ratio: Some(
                    report.latency(99.0).as_secs_f64() / health.latency(99.0).as_secs_f64(),
                ),
            }
        })
        .collect()
}

/// The first call kaden logs as answered.
async fn answered_call(kaden: &Kaden) -> Option<LiveCall> {
    for _ in 0..100 {
        let calls = kaden.get_json("/api/v1/calls").await;
        let answered = calls
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| !c["answered_at"].is_null());
        if let Some(c) = answered {
            let text = |field: &str| c[field].as_str().unwrap_or_default().to_owned();
            return Some(LiveCall {
                id: text("id"),
                sid: text("call_sid"),
                to: text("phone"),
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// `REQUESTS` webhooks for `call`, one at a time, each with Twilio's parameters and a
/// valid X-Twilio-Signature over the public URL.
async fn signed(
    kaden: &Kaden,
    token: &str,
    call: &LiveCall,
    hook: &str,
    extra: &[(&str, &str)],
) -> Report {
    let path = format!("/twilio/{hook}?call={}", call.id);
    let url = format!("http://{}{path}", kaden.addr);
    let params: Vec<(String, String)> = [
        ("CallSid", call.sid.as_str()),
        ("AccountSid", ACCOUNT_SID),
        ("From", "+815000000000"),
        ("To", call.to.as_str()),
        ("CallStatus", "in-progress"),
        ("ApiVersion", "2010-04-01"),
        ("Direction", "outbound-api"),
    ]
    .iter()
    .chain(extra)
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let request = Req::form(&path, &params)
        .header("X-Twilio-Signature", signature::sign(token, &url, &params));
    closed_loop(
        kaden.addr,
        1,
        REQUESTS,
        Duration::from_secs(60),
        move |_| request.clone(),
    )
    .await
}
