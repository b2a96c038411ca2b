//! Any text as our TOML configuration: a diagnostic or a model, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = vrrp_userspace::config::toml::parse_str("fuzz.toml", text);
    }
});
