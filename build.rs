//! The `auth` component's build: the small stack (`build/stack.rs`) and the
//! API document, minified and gzipped into `OUT_DIR` so that serving it adds
//! 8 KB, not 97 KB, to the linear memory every instance starts with (Spin
//! restores that memory after every request; README, "The API document").

#[path = "build/stack.rs"]
mod stack;

use std::io::Write;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=build/stack.rs");
    println!("cargo:rerun-if-changed=openapi.json");
    stack::link_small_stack();

    let text = std::fs::read_to_string("openapi.json").expect("openapi.json is readable");
    let document: serde_json::Value = serde_json::from_str(&text).expect("openapi.json is valid JSON");
    let minified = serde_json::to_vec(&document).expect("a JSON value serialises");
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gzip.write_all(&minified).expect("writing to memory");
    let gzipped = gzip.finish().expect("writing to memory");
    // The component inflates what lies between a plain 10-byte header (no
    // optional fields) and the 8-byte trailer.
    assert!(gzipped.len() > 18 && gzipped[3] == 0, "a plain gzip header");
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("openapi.json.gz"), gzipped).expect("OUT_DIR is writable");
}
