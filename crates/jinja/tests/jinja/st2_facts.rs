//! Facts from StackStorm filter tests (filled in below).
