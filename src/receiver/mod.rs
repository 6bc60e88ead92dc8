//! The reference receiver.
