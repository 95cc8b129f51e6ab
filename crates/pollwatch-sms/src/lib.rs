//! The coded SMS format for election observers whose mobile data is cut.
//!
//! Observers type short coded messages on a keypad, under stress, on a
//! Latin or a Cyrillic keyboard (Apollo and ELMO groups do the same). This
//! crate owns that format and everything that depends on it alone:
//!
//! - [`parse`]: a message into a [`Command`] — `JOIN <code>`, `?`, or a
//!   [`Report`] from a station (`C`, `A`, `H`, `P`, `N`) — repairing the
//!   slips that cannot change its meaning (look-alike letters in numbers,
//!   odd separators, a missing space, Cyrillic letters) and recording each
//!   [`Repair`]; otherwise a [`Refusal`] naming the word and the problem;
//! - [`Report::event`]: the event kind and payload the report becomes,
//!   exactly as the observer app sends it, so that
//!   `pollwatch_domain::report::check` accepts it;
//! - the replies in English, Russian and Kazakh: [`confirmation`],
//!   [`refusal_text`], [`help_text`], [`unknown_number_text`];
//! - [`card_html`]: the one-page card trainers print, from the forms in
//!   force.
//!
//! The format itself, with the letter table and the station rule, is in
//! the crate's README.md (the document trainers print).
//!
//! **Architecture invariant:** pure. No I/O, no clock, no randomness; it
//! knows neither SMS gateways nor phone numbers nor the database. The
//! server receives a text and a sender, asks [`parse`], resolves the
//! station and the observer itself, stores [`Report::event`], and sends
//! back the text this crate words. `tests/pure.rs` checks the dependencies
//! and the sources.

mod card;
mod parse;
mod reply;
mod report;

pub use card::{card_html, card_html_to};
pub use parse::{Kind, MAX_CHARS, MAX_NOTE_CHARS, Parsed, Problem, Refusal, Repair, parse};
pub use reply::{
    MAX_REPLY_CHARS, confirmation, example, help_text, join_refused_text, joined_text,
    not_accepted_text, refusal_text, unknown_number_text,
};
pub use report::{AlertKind, Command, Report, Slot, Status, figure_slots};
