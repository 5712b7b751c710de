//! Slot times, compact slot names, lake paths and lake URLs, parsed from any text;
//! what parses prints back to what parses the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use twitch_pipeline::lake::{LakeObject, LakeUrl, Slot};

fuzz_target!(|text: &str| {
    if let Ok(slot) = text.parse::<Slot>() {
        assert_eq!(slot.rfc3339().parse::<Slot>().unwrap(), slot);
        assert_eq!(Slot::from_compact(&slot.compact()), Some(slot));
    }
    if let Some(slot) = Slot::from_compact(text) {
        assert_eq!(slot.compact(), text);
    }
    match LakeObject::parse(text) {
        LakeObject::Data { entity, slot, run: Some(run) } => {
            assert_eq!(LakeObject::parse(entity.run_data_path(slot, &run).as_ref()), LakeObject::parse(text));
        }
        LakeObject::Manifest { slot } => assert_eq!(Slot::from_compact(&slot.compact()), Some(slot)),
        _ => {}
    }
    if let Ok(url) = text.parse::<LakeUrl>() {
        let _ = url.prefix();
        let _ = url.to_string();
    }
});
