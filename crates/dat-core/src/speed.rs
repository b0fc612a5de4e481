//! Timing for the ignored speed tests.

/// Nanoseconds per call of `f`: the best of 60 trials of `reps` calls each. On a shared
/// machine load only adds time, so the best trial is the steadiest figure (to about 0.5%
/// here, where medians of whole runs moved by 10%).
pub(crate) fn best_ns(reps: u32, f: &mut dyn FnMut()) -> f64 {
    (0..60)
        .map(|_| {
            let t = std::time::Instant::now();
            for _ in 0..reps {
                f();
            }
            t.elapsed().as_secs_f64() * 1e9 / f64::from(reps)
        })
        .fold(f64::MAX, f64::min)
}
