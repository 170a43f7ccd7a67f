//! Adam (Kingma & Ba 2015) with bias correction, over one flat parameter slice.

pub(crate) const BETA1: f64 = 0.9;
pub(crate) const BETA2: f64 = 0.999;
pub(crate) const EPS: f64 = 1e-8;

/// First and second moment estimates of one parameter slice.
pub(crate) struct Adam {
    m: Vec<f64>,
    v: Vec<f64>,
    t: i32,
}

impl Adam {
    pub(crate) fn new(len: usize) -> Adam {
        Adam {
            m: vec![0.0; len],
            v: vec![0.0; len],
            t: 0,
        }
    }

    /// One step: `p -= lr · m̂ / (√v̂ + ε)`.
    pub(crate) fn step(&mut self, params: &mut [f32], grads: &[f32], lr: f64) {
        self.t = self.t.saturating_add(1);
        let c1 = 1.0 - BETA1.powi(self.t);
        let c2 = 1.0 - BETA2.powi(self.t);
        for (((p, &g), m), v) in params
            .iter_mut()
            .zip(grads)
            .zip(&mut self.m)
            .zip(&mut self.v)
        {
            let g = g as f64;
            *m = BETA1 * *m + (1.0 - BETA1) * g;
            *v = BETA2 * *v + (1.0 - BETA2) * g * g;
            let step = lr * (*m / c1) / ((*v / c2).sqrt() + EPS);
            *p = (*p as f64 - step) as f32;
        }
    }

    /// The same for a scalar parameter kept in `f64`.
    pub(crate) fn step_scalar(&mut self, param: &mut f64, grad: f64, lr: f64) {
        self.t = self.t.saturating_add(1);
        let c1 = 1.0 - BETA1.powi(self.t);
        let c2 = 1.0 - BETA2.powi(self.t);
        self.m[0] = BETA1 * self.m[0] + (1.0 - BETA1) * grad;
        self.v[0] = BETA2 * self.v[0] + (1.0 - BETA2) * grad * grad;
        *param -= lr * (self.m[0] / c1) / ((self.v[0] / c2).sqrt() + EPS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adam_minimises_a_quadratic() {
        // f(x) = Σ (x_i − c_i)², gradient 2 (x − c)
        let c = [3.0f32, -2.0, 0.5];
        let mut x = [0.0f32; 3];
        let mut opt = Adam::new(3);
        for _ in 0..2000 {
            let g: Vec<f32> = x.iter().zip(&c).map(|(&xi, &ci)| 2.0 * (xi - ci)).collect();
            opt.step(&mut x, &g, 0.05);
        }
        for (xi, ci) in x.iter().zip(&c) {
            assert!((xi - ci).abs() < 1e-3, "{x:?}");
        }
        let mut s = 5.0f64;
        let mut o = Adam::new(1);
        for _ in 0..2000 {
            let g = 2.0 * (s - 1.0);
            o.step_scalar(&mut s, g, 0.05);
        }
        assert!((s - 1.0).abs() < 1e-3);
    }
}
