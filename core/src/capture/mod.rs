//! Image handling at capture: format detection, metadata removal without re-encoding, and
//! thumbnails. Pure functions over in-memory bytes; nothing here touches the disk.

pub mod jpeg;

/// Generated JPEG fixtures (GPS-bearing), for tests, benchmarks and the crash-test child.
#[cfg(any(test, feature = "testkit"))]
#[allow(clippy::expect_used)] // Test-support code: its `expect`s are unreachable by construction.
pub mod fixture;
