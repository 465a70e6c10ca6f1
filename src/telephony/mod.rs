//! Making phones ring: TwiML, Twilio's signatures and REST API, and the simulator (a
//! stand-in for Twilio's REST API that calls our webhooks back as Twilio does).

pub mod errors;
pub mod failover;
pub mod signature;
pub mod simulator;
pub mod sms;
pub mod twilio;
pub mod twiml;
pub mod voice;
