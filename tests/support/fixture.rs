//! Hand-made Helix records for fixture lakes, stamped as extraction stamps them.

use serde_json::json;
use twitch_pipeline::lake::Slot;

pub fn stamp(mut record: serde_json::Value, slot: Slot) -> String {
    record["_snapshot_at"] = json!(slot.rfc3339());
    record["_extracted_at"] = json!(
        slot.time()
            .checked_add_signed(chrono::Duration::seconds(4))
            .unwrap()
            .to_rfc3339()
    );
    record.to_string()
}

pub fn stream(slot: Slot, id: &str, user: (&str, &str), game: (&str, &str), language: &str, viewers: i64) -> String {
    stamp(
        json!({
            "id": id, "user_id": user.0, "user_login": user.1, "user_name": user.1.to_uppercase(),
            "game_id": game.0, "game_name": game.1, "type": "live", "title": format!("{id} live"),
            "viewer_count": viewers, "started_at": "2026-11-23T19:00:00Z", "language": language,
            "thumbnail_url": "https://example.test/{width}x{height}.jpg", "tag_ids": [], "tags": null, "is_mature": false
        }),
        slot,
    )
}

pub fn user(slot: Slot, id: &str, login: &str, broadcaster_type: &str) -> String {
    stamp(
        json!({
            "id": id, "login": login, "display_name": login.to_uppercase(), "type": "",
            "broadcaster_type": broadcaster_type, "description": "", "profile_image_url": "https://example.test/p.png",
            "offline_image_url": "", "view_count": 0, "created_at": "2020-01-01T00:00:00Z"
        }),
        slot,
    )
}

pub fn game(slot: Slot, id: &str, name: &str) -> String {
    stamp(
        json!({"id": id, "name": name, "box_art_url": "https://example.test/{width}x{height}.jpg", "igdb_id": ""}),
        slot,
    )
}
