import Foundation
import DreamTensor
import DreamIO

/// One training run's state: parameters, AdamW moments, EMA copies and the step, saved together so a
/// run resumes exactly where it stopped (each step's data and noise depend only on (seed, step)).
final class Run {
    let name: String
    let checkpointPath: String
    let logPath: String
    let keys: [String]
    let params: [Tensor]
    let opt: AdamW
    let ema: [Tensor]?
    let emaDecay: Float
    var step = 0
    var seconds = 0.0          // training time of earlier sessions of this run
    let started = Date()

    init(name: String, work: String, params: [String: Tensor], weightDecay: Float = 0.0, emaDecay: Float? = nil) {
        self.name = name
        checkpointPath = "\(work)/\(name)-checkpoint.safetensors"
        logPath = "\(work)/\(name)-log.csv"
        keys = params.keys.sorted()
        self.params = keys.map { params[$0]! }
        opt = AdamW(self.params, lr: 1e-3, weightDecay: weightDecay)
        self.emaDecay = emaDecay ?? 0
        ema = emaDecay == nil ? nil : self.params.map { $0.detached.copy() }
    }

    var parameterCount: Int { params.reduce(0) { $0 + $1.count } }
    var elapsed: Double { seconds + Date().timeIntervalSince(started) }

    /// Loads the checkpoint if there is one; returns whether it did.
    func resume() throws -> Bool {
        guard FileManager.default.fileExists(atPath: checkpointPath) else { return false }
        let f = try SafeTensorsFile(path: checkpointPath)
        let all = try f.all()
        func copy(_ key: String, into t: Tensor) throws {
            guard let s = all[key], s.count == t.count else { throw FileError(checkpointPath, "missing or misshapen \(key)") }
            t.pointer.update(from: s.pointer, count: s.count)
        }
        var moments: [(Tensor, Tensor)] = []
        for (i, k) in keys.enumerated() {
            try copy("param/\(k)", into: params[i])
            if let ema { try copy("ema/\(k)", into: ema[i]) }
            guard let m = all["m/\(k)"], let v = all["v/\(k)"] else { throw FileError(checkpointPath, "missing moments of \(k)") }
            moments.append((m, v))
        }
        step = Int(f.metadata["step"] ?? "0") ?? 0
        seconds = Double(f.metadata["seconds"] ?? "0") ?? 0
        try opt.restore(step: step, moments: moments)
        return true
    }

    func save() throws {
        var out: [String: Tensor] = [:]
        for (i, k) in keys.enumerated() {
            out["param/\(k)"] = params[i].detached
            if let ema { out["ema/\(k)"] = ema[i] }
            let (m, v) = opt.moments[i]
            out["m/\(k)"] = m; out["v/\(k)"] = v
        }
        try SafeTensors.save(out, metadata: ["step": "\(step)", "seconds": String(format: "%.1f", elapsed)], to: checkpointPath)
    }

    /// The weights to ship: EMA copies when kept, else the parameters.
    var finalWeights: [String: Tensor] {
        Dictionary(uniqueKeysWithValues: keys.enumerated().map { i, k in (k, ema?[i] ?? params[i].detached) })
    }

    /// One optimiser step on `loss`: gradients, global-norm clipping, AdamW at `lr`, EMA.
    func update(_ loss: Tensor, lr: Float, clip: Float = 1) throws {
        let (g, _) = try clipGradNorm(gradients(of: loss, wrt: params), maxNorm: clip)
        opt.lr = lr
        try opt.update(g)
        if let ema {
            // Warm-up of the decay, so early EMA weights are not dominated by the random initialisation.
            let d = min(emaDecay, Float(1 + step) / Float(10 + step))
            for (e, p) in zip(ema, params) {
                let pe = e.pointer, pp = p.pointer
                for j in 0..<e.count { pe[j] = d * pe[j] + (1 - d) * pp[j] }
            }
        }
        step += 1
    }

    /// Learning rate with linear warm-up and cosine decay to a tenth.
    static func schedule(_ step: Int, of total: Int, base: Float, warmup: Int) -> Float {
        if step < warmup { return base * Float(step + 1) / Float(warmup) }
        let p = Double(step - warmup) / Double(max(1, total - warmup))
        return base * Float(0.1 + 0.9 * 0.5 * (1 + cos(Double.pi * min(1, p))))
    }

    // The loss and throughput since the last log line.
    var window: [Float] = [], windowStart = Date(), windowImages = 0

    /// After a step: records its (unweighted) loss and image count, logs every `logEvery` steps, saves every
    /// `saveEvery` and at the end.
    func finished(loss: Float, images: Int, total: Int, logEvery: Int, saveEvery: Int) throws {
        window.append(loss); windowImages += images
        if step % logEvery == 0 {
            log(window.reduce(0, +) / Float(window.count), rate: Double(windowImages) / Date().timeIntervalSince(windowStart), total: total)
            window = []; windowStart = Date(); windowImages = 0
        }
        if step % saveEvery == 0 || step == total { try save() }
    }

    /// Ctrl-C: save and stop with status 130.
    func stopIfRequested() throws {
        guard stopRequested() else { return }
        try save()
        print("stopped: saved at step \(step)")
        exit(130)
    }

    func log(_ loss: Float, rate: Double, total: Int, extra: String = "") {
        let line = String(format: "%@ step %d/%d  loss %.5f  %.1f img/s  %@%@", name, step, total, loss, rate, clock(elapsed), extra)
        print(line)
        fflush(stdout)
        let row = String(format: "%d,%.6f,%.1f\n", step, loss, elapsed)
        if !FileManager.default.fileExists(atPath: logPath) { _ = FileManager.default.createFile(atPath: logPath, contents: Data("step,loss,seconds\n".utf8)) }
        if let h = FileHandle(forWritingAtPath: logPath) { h.seekToEndOfFile(); h.write(Data(row.utf8)); h.closeFile() }
    }
}

func clock(_ s: Double) -> String { String(format: "%d:%02d:%02d", Int(s) / 3600, Int(s) / 60 % 60, Int(s) % 60) }

/// Ctrl-C during training: finish the step, save, stop (the context training runs in takes the signal's cell
/// as its cancellation request).
func installStopHandler() { SignalCells.prepare(); signal(SIGINT) { _ in SignalCells.cancel.pointee = 1 } }
func stopRequested() -> Bool { ExecutionContext.current.cancelRequested }

