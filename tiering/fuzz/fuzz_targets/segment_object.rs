//! Reads arbitrary bytes as a tiered segment object, as the cold reader would: trailer, footer,
//! then every frame. Any input must end in an error or in frames that decode to exactly the
//! sizes the footer gives; never a panic, an abort or an allocation sized by a claimed length.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tiering::format::{Footer, TRAILER_LEN, Trailer, decode_frame};

fuzz_target!(|data: &[u8]| {
    let Ok(trailer) = Trailer::parse(data) else {
        return;
    };
    let Ok(at) = trailer.footer_position(data.len() as u64) else {
        return;
    };
    let Ok(footer) = Footer::parse(&data[at as usize..data.len() - TRAILER_LEN], &trailer) else {
        return;
    };
    for f in &footer.frames {
        let start = f.position as usize;
        let Some(frame) = start
            .checked_add(f.compressed_len as usize)
            .and_then(|end| data.get(start..end))
        else {
            return;
        };
        if let Ok(raw) = decode_frame(trailer.codec, f, frame) {
            assert_eq!(raw.len(), f.raw_len as usize);
        }
    }
});
