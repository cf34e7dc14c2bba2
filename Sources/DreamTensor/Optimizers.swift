import Foundation

/// AdamW with decoupled weight decay, step for step as torch.optim.AdamW. Parameters are updated in
/// place (they are leaves: their storage belongs to the optimiser's owner).
public final class AdamW {
    public let parameters: [Tensor]
    public var lr: Float, beta1: Float, beta2: Float, eps: Float, weightDecay: Float
    public private(set) var step = 0
    var m: [Storage], v: [Storage]

    public init(_ parameters: [Tensor], lr: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999,
                eps: Float = 1e-8, weightDecay: Float = 0.01) {
        self.parameters = parameters
        self.lr = lr; self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.weightDecay = weightDecay
        m = parameters.map { Storage(zeros: $0.count) }
        v = parameters.map { Storage(zeros: $0.count) }
    }

    /// The moment estimates (first, second) per parameter, to save a run and resume it exactly.
    public var moments: [(Tensor, Tensor)] {
        zip(parameters, zip(m, v)).map { p, mv in (Tensor(shape: p.shape, storage: mv.0), Tensor(shape: p.shape, storage: mv.1)) }
    }

    /// Restores a saved state: the step count and the moments, in parameter order.
    public func restore(step: Int, moments saved: [(Tensor, Tensor)]) throws {
        try require(saved.count == parameters.count, "AdamW: \(saved.count) saved moments for \(parameters.count) parameters")
        for (i, (a, b)) in saved.enumerated() {
            try require(a.count == parameters[i].count && b.count == parameters[i].count, "AdamW: saved moments \(i) have the wrong size")
            m[i].pointer.update(from: a.pointer, count: a.count)
            v[i].pointer.update(from: b.pointer, count: b.count)
        }
        self.step = step
    }

    public func update(_ grads: [Tensor]) throws {
        try require(grads.count == parameters.count, "AdamW: \(grads.count) gradients for \(parameters.count) parameters")
        step += 1
        let bc1 = 1 - Foundation.pow(beta1, Float(step)), bc2 = 1 - Foundation.pow(beta2, Float(step))
        let stepSize = lr / bc1, bc2Root = bc2.squareRoot()
        let decay = 1 - lr * weightDecay
        let (b1, b2, eps) = (beta1, beta2, self.eps)
        for (i, p) in parameters.enumerated() {
            let g = grads[i]
            try require(g.shape == p.shape, "AdamW: gradient \(i) has shape \(shapeString(g.shape)), parameter \(shapeString(p.shape))")
            let pp = p.pointer, pg = g.pointer, pm = m[i].pointer, pv = v[i].pointer
            parallelElements(p.count) { r in
                for j in r {
                    pp[j] *= decay
                    pm[j] = b1 * pm[j] + (1 - b1) * pg[j]
                    pv[j] = b2 * pv[j] + (1 - b2) * pg[j] * pg[j]
                    pp[j] -= stepSize * pm[j] / (pv[j].squareRoot() / bc2Root + eps)
                }
            }
        }
    }
}

/// Scales gradients so their global 2-norm is at most `maxNorm`, as torch.nn.utils.clip_grad_norm_.
/// Returns the clipped gradients and the norm before clipping.
public func clipGradNorm(_ grads: [Tensor], maxNorm: Float) throws -> ([Tensor], Float) {
    var total = 0.0
    for g in grads {
        let p = g.pointer
        var s = 0.0
        for j in 0..<g.count { s += Double(p[j]) * Double(p[j]) }
        total += s
    }
    let norm = Float(total.squareRoot())
    let coef = Swift.min(1, maxNorm / (norm + 1e-6))
    if coef >= 1 { return (grads, norm) }
    return (try grads.map { try $0 * coef }, norm)
}
