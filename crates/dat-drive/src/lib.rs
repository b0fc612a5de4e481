//! Hyperdrive 9: a versioned filesystem over a metadata feed and a content feed.
