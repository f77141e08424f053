//! A latency histogram with logarithmic buckets, HDR-style.
//!
//! Values are nanoseconds. Each power of two is cut into [`SUB`] equal
//! buckets, so a bucket is never wider than 1/128 of its lower bound: a
//! recorded value is known to within 0.8%, from 1 ns to 2^40 ns (18 minutes),
//! in 4,352 counters (34 KiB). Recording is an index computation and an
//! increment: no allocation, no search.
//!
//! ```text
//! value      0 ..  127    128 .. 255    256 .. 511     512 .. 1023    ...
//! buckets    1 ns wide    1 ns wide     2 ns wide      4 ns wide      ...
//! index      0 ..  127    128 .. 255    256 .. 383     384 .. 511     ...
//! ```

/// Linear sub-buckets per power of two, as a power of two.
const SUB_BITS: u32 = 7;
/// Linear sub-buckets per power of two.
const SUB: usize = 1 << SUB_BITS;
/// Values at or above `2^MAX_BITS` ns are clamped into the last bucket.
const MAX_BITS: u32 = 40;
/// Bucket count: the first `2 * SUB` values have a bucket each, then `SUB`
/// buckets per further power of two.
const BUCKETS: usize = (MAX_BITS - SUB_BITS + 1) as usize * SUB;

/// Counts of values by bucket, with the exact count, sum, min and max.
#[derive(Clone)]
pub(crate) struct Histogram {
    counts: Vec<u64>,
    count: u64,
    sum: u128,
    min: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; BUCKETS],
            count: 0,
            sum: 0,
            min: u64::MAX,
            max: 0,
        }
    }
}

/// The bucket of `v`.
fn index(v: u64) -> usize {
    let v = v.min((1 << MAX_BITS) - 1);
    if v < SUB as u64 {
        return v as usize;
    }
    let msb = 63 - v.leading_zeros();
    // Keep SUB_BITS bits after the leading one.
    let shift = msb - SUB_BITS;
    let mantissa = (v >> shift) as usize; // in SUB..2*SUB
    (shift as usize + 1) * SUB + (mantissa - SUB)
}

/// The smallest value of bucket `i`, and its width.
fn bounds(i: usize) -> (u64, u64) {
    if i < SUB {
        return (i as u64, 1);
    }
    let shift = (i / SUB - 1) as u32;
    let mantissa = (i % SUB + SUB) as u64;
    (mantissa << shift, 1 << shift)
}

impl Histogram {
    /// Records one value, in nanoseconds.
    pub(crate) fn record(&mut self, ns: u64) {
        self.counts[index(ns)] += 1;
        self.count += 1;
        self.sum += u128::from(ns);
        self.min = self.min.min(ns);
        self.max = self.max.max(ns);
    }

    /// Adds every value of `other`.
    pub(crate) fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    #[cfg(test)]
    pub(crate) fn count(&self) -> u64 {
        self.count
    }

    /// The largest value, exact (0 when empty).
    pub(crate) fn max(&self) -> u64 {
        self.max
    }

    /// The mean, exact (0 when empty).
    pub(crate) fn mean(&self) -> u64 {
        if self.count == 0 {
            0
        } else {
            (self.sum / u128::from(self.count)) as u64
        }
    }

    /// The value at quantile `q` (0.0 to 1.0): the midpoint of the bucket
    /// holding the `ceil(q * count)`-th smallest value, within the exact
    /// min and max (which the first and last rank return). 0 when empty.
    pub(crate) fn quantile(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        // The extremes are known exactly.
        if rank == 1 {
            return self.min;
        }
        if rank == self.count {
            return self.max;
        }
        let mut seen = 0;
        for (i, &n) in self.counts.iter().enumerate() {
            seen += n;
            if seen >= rank {
                let (low, width) = bounds(i);
                return (low + width / 2).clamp(self.min, self.max);
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_within_one_percent() {
        let mut expected_low = 0;
        for i in 0..BUCKETS {
            let (low, width) = bounds(i);
            assert_eq!(low, expected_low, "bucket {i}");
            assert_eq!(index(low), i);
            assert_eq!(index(low + width - 1), i);
            assert!(width == 1 || (width as f64) / (low as f64) <= 1.0 / 128.0 + 1e-12);
            expected_low = low + width;
        }
        assert_eq!(expected_low, 1 << MAX_BITS);
        assert_eq!(index(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn quantiles_of_a_uniform_range() {
        let mut h = Histogram::default();
        for v in 1..=100_000u64 {
            h.record(v * 1000);
        }
        for (q, exact) in [
            (0.5, 50_000_000.0),
            (0.9, 90_000_000.0),
            (0.99, 99_000_000.0),
        ] {
            let got = h.quantile(q) as f64;
            assert!((got - exact).abs() / exact < 0.01, "q{q}: {got} vs {exact}");
        }
        assert_eq!(h.max(), 100_000_000);
        assert_eq!(h.quantile(1.0), 100_000_000);
        assert_eq!(h.quantile(0.0), 1000);
        assert_eq!(h.mean(), 50_000_500);
    }

    #[test]
    fn merge_adds_counts() {
        let (mut a, mut b) = (Histogram::default(), Histogram::default());
        a.record(10);
        b.record(1_000_000);
        b.record(2_000_000);
        a.merge(&b);
        assert_eq!(a.count(), 3);
        assert_eq!(a.max(), 2_000_000);
        assert_eq!(a.quantile(0.01), 10);
        assert!(Histogram::default().quantile(0.5) == 0);
    }
}
