//! Integration tests over real loopback HTTP; one binary, one module per area.

mod support;

mod cli;
mod delivery;
