//! Making phones ring: TwiML, Twilio's signatures and REST API, and the simulator.

pub mod signature;
