//! Stations on a flat map: the one projection every map of pollwatch
//! draws with (the plan's, the situation room's and the published
//! report's), so a city has the same shape on each.
//!
//! Equirectangular, with longitude shrunk by the cosine of the middle
//! latitude: exact enough over a city or a country, and a station's place
//! is a multiplication, so a national map of 95,000 stations costs
//! nothing to draw.

/// The box around some points, in map units (degrees of latitude) with the
/// origin at its north-west corner.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frame {
    lat1: f64,
    lon0: f64,
    /// Longitude's shrink: the cosine of the middle latitude.
    k: f64,
    width: f64,
    height: f64,
}

/// Near the poles a degree of longitude is almost nothing; past this
/// shrink the map would be a line.
const MIN_SHRINK: f64 = 0.05;
/// A single station (or stations at one spot) still gets a box.
const MIN_SIDE: f64 = 1e-4;

/// A frame around a point at 0°, 0°: where a map with no station on it
/// draws its (empty) box.
impl Default for Frame {
    fn default() -> Self {
        Self {
            lat1: 0.0,
            lon0: 0.0,
            k: 1.0,
            width: MIN_SIDE,
            height: MIN_SIDE,
        }
    }
}

impl Frame {
    /// The frame around these `(lat, lon)` points; `None` when there are
    /// none. Points off the globe (not finite, out of range) are skipped.
    pub fn around(points: impl IntoIterator<Item = (f64, f64)>) -> Option<Self> {
        let mut bounds: Option<(f64, f64, f64, f64)> = None;
        for (lat, lon) in points.into_iter().filter(|&p| on_the_globe(p)) {
            let b = bounds.get_or_insert((lat, lat, lon, lon));
            b.0 = b.0.min(lat);
            b.1 = b.1.max(lat);
            b.2 = b.2.min(lon);
            b.3 = b.3.max(lon);
        }
        let (lat0, lat1, lon0, lon1) = bounds?;
        let k = ((lat0 + lat1) / 2.0).to_radians().cos().max(MIN_SHRINK);
        Some(Self {
            lat1,
            lon0,
            k,
            width: ((lon1 - lon0) * k).max(MIN_SIDE),
            height: (lat1 - lat0).max(MIN_SIDE),
        })
    }

    /// Width in map units.
    pub fn width(&self) -> f64 {
        self.width
    }

    /// Height in map units.
    pub fn height(&self) -> f64 {
        self.height
    }

    /// A point's place: `x` east from the west edge, `y` south from the
    /// north edge, in map units.
    pub fn place(&self, (lat, lon): (f64, f64)) -> (f64, f64) {
        ((lon - self.lon0) * self.k, self.lat1 - lat)
    }

    /// The same frame fitted into a `width` wide drawing with `pad` on
    /// every side: its height (between `min_height` and `max_height`, so
    /// a long thin city stays readable) and the place of each point in it.
    pub fn fit(&self, width: f64, pad: f64, min_height: f64, max_height: f64) -> Fitted {
        let height = (width * self.height / self.width).clamp(min_height, max_height);
        Fitted {
            frame: *self,
            pad,
            height,
            sx: (width - 2.0 * pad) / self.width,
            sy: (height - 2.0 * pad) / self.height,
        }
    }
}

/// A [`Frame`] scaled into a drawing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fitted {
    frame: Frame,
    pad: f64,
    height: f64,
    sx: f64,
    sy: f64,
}

impl Fitted {
    /// The drawing's height.
    pub fn height(&self) -> f64 {
        self.height
    }

    /// A point's place in the drawing.
    pub fn place(&self, at: (f64, f64)) -> (f64, f64) {
        let (x, y) = self.frame.place(at);
        (self.pad + x * self.sx, self.pad + y * self.sy)
    }
}

/// A latitude and longitude that name a place on Earth.
pub fn on_the_globe((lat, lon): (f64, f64)) -> bool {
    lat.is_finite()
        && lon.is_finite()
        && (-90.0..=90.0).contains(&lat)
        && (-180.0..=180.0).contains(&lon)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn north_is_up_and_west_is_left() {
        // Almaty's corners.
        let f = Frame::around([(43.35, 76.80), (43.15, 77.05)]).unwrap();
        assert_eq!(f.place((43.35, 76.80)), (0.0, 0.0));
        let (x, y) = f.place((43.15, 77.05));
        assert!((x - f.width()).abs() < 1e-12 && (y - f.height()).abs() < 1e-12);
        // A degree of longitude is shorter than one of latitude there.
        assert!((f.width() / f.height() - 0.25 * 43.25f64.to_radians().cos() / 0.2).abs() < 1e-9);
    }

    #[test]
    fn no_points_no_frame_and_one_point_a_small_one() {
        assert_eq!(Frame::around([]), None);
        assert_eq!(Frame::around([(f64::NAN, 1.0), (91.0, 0.0)]), None);
        assert_eq!(Frame::default(), Frame::around([(0.0, 0.0)]).unwrap());
        let f = Frame::around([(51.1, 71.4)]).unwrap();
        assert!(f.width() > 0.0 && f.height() > 0.0);
        let d = f.fit(1000.0, 16.0, 300.0, 1400.0);
        let (x, y) = d.place((51.1, 71.4));
        assert!(x.is_finite() && y.is_finite());
    }

    proptest! {
        /// Every point of the frame is drawn inside the drawing's pads.
        #[test]
        fn points_fall_inside_the_drawing(
            points in prop::collection::vec((-89.0f64..89.0, -179.0f64..179.0), 1..50),
        ) {
            let f = Frame::around(points.iter().copied()).unwrap();
            let d = f.fit(1000.0, 16.0, 300.0, 1400.0);
            prop_assert!((300.0..=1400.0).contains(&d.height()));
            for p in points {
                let (x, y) = d.place(p);
                prop_assert!((16.0 - 1e-6..=1000.0 - 16.0 + 1e-6).contains(&x), "x {x}");
                prop_assert!((16.0 - 1e-6..=d.height() - 16.0 + 1e-6).contains(&y), "y {y}");
            }
        }
    }
}
