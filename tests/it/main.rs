//! Integration tests over real loopback HTTP; one binary, one module per area.

mod support;

mod check;
mod cli;
mod consumer_examples;
mod delivery;
mod drift;
mod event_fixtures;
mod faults;
mod hardening;
mod hostile;
mod k8s;
mod persistence;
mod policy_model;
mod receiver;
mod recording;
mod reliability;
mod replay;
mod reports;
mod scenarios;
mod schema;
mod server;
mod ship;
mod testkit;
mod tls;
mod ui;
mod world;
