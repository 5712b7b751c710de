//! A manifest as read back from the lake or from a blob trigger's bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use twitch_pipeline::lake::{LakeObject, Manifest};

fuzz_target!(|data: &[u8]| {
    let Ok(manifest) = serde_json::from_slice::<Manifest>(data) else {
        return;
    };
    for file in &manifest.files {
        let _ = LakeObject::parse(&file.path);
    }
    let _ = manifest.file(twitch_pipeline::lake::Entity::Streams);
    // What was read writes back and reads again as the same manifest.
    let again: Manifest = serde_json::from_slice(&serde_json::to_vec(&manifest).unwrap()).unwrap();
    assert_eq!(again.files, manifest.files);
    assert_eq!(again.slot, manifest.slot);
});
