//! The normalized model every source is converted into. No I/O lives here.

mod alert;
mod delivery;
mod ids;
mod keypad;
mod phone;
mod severity;

pub use alert::{Alert, AlertKind, Source, SourceRef};
pub use delivery::{Delivery, IdempotencyKey, InvalidIdempotencyKey};
pub use ids::{AlertId, CallSettingId, IncidentId, ScheduleId, UserId};
pub use keypad::{Key, Keypad};
pub use phone::{PhoneNumber, PhoneNumberError};
pub use severity::{Severity, UnknownSeverity};
