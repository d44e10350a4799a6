//! The bot's conversations, natively: the chat handler on a migrated in-memory `chat`
//! database, with the other functions and the platforms' APIs standing in behind `fetch`.
//! The stand-ins check what they receive (signatures, shapes) and answer as the real ones
//! do; the end-to-end tests (tests/it/chat.rs of the e2e package) run the real functions.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

mod conversation;
mod stand_in;
