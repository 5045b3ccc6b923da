#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| media_query_fuzz::checks::stream_batch(data));
