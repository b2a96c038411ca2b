//! Any text as a keepalived.conf: a diagnostic or a model, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = vrrp_userspace::config::keepalived::parse_str("fuzz.conf", text);
    }
});
