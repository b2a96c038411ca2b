//! Configuration: one model, two front ends (keepalived.conf and TOML).
