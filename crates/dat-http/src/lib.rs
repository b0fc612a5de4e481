//! SLEEP over HTTP: serve and clone.
