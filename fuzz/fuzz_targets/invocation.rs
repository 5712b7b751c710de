//! A custom-handler invocation envelope, as the Functions host posts it, and every
//! accessor the routes call on it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use twitch_pipeline::functions::{Invocation, TimerInfo};

fuzz_target!(|data: &[u8]| {
    let Ok(invocation) = serde_json::from_slice::<Invocation>(data) else {
        return;
    };
    let _ = invocation.utc_now().map(twitch_pipeline::lake::Slot::scheduled);
    let _ = invocation.metadata_string("name");
    let _ = invocation.metadata_string("Uri");
    let _ = invocation.binding::<TimerInfo>("timer");
    let _ = invocation.binding::<serde_json::Value>("req");
    let _ = invocation.binary("blob");
});
