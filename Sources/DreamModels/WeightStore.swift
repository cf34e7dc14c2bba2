import Foundation
import DreamTensor
import DreamIO

/// The tensors of one checkpoint component, by key. Modules take their weights by the checkpoint's own
/// key names; the store remembers which keys were used, so that missing keys, wrong shapes and
/// unexpected keys are reported by name.
public final class WeightStore {
    public let source: String
    var tensors: [String: () throws -> Tensor] = [:]
    /// Half-precision weights in the mapped files, by key (kept half in memory; see `Weight`).
    var halves: [String: (UnsafeRawPointer, SafeTensorsFile)] = [:]
    var shapes: [String: [Int]] = [:]
    var used = Set<String>()
    var problems: [String] = []
    let widening = WideningBuffer()
    /// Kept alive: tensors are read lazily from the mapped files.
    var files: [SafeTensorsFile] = []

    public init(files paths: [String]) throws {
        source = paths.joined(separator: ", ")
        for path in paths {
            let f = try SafeTensorsFile(path: path)
            files.append(f)
            for name in f.names {
                shapes[name] = f.entries[name]!.shape
                tensors[name] = { try f.tensor(name) }
                if f.entries[name]!.dtype == .float16, let p = try f.bytes(name).baseAddress { halves[name] = (p, f) }
            }
        }
    }

    /// Where a store key's tensor comes from in a file whose names differ (single-file checkpoints): a
    /// key as it is, the same values in another shape (1×1 convolutions used as linear layers), or a
    /// block of rows (one of fused q/k/v projections). Half-precision data stays mapped in all three.
    public enum Source {
        case key(String)
        case reshaped(String, [Int])
        case rows(String, Range<Int>)
    }

    /// A store over one file under other names: `mapping` gives each store key's source.
    public init(file f: SafeTensorsFile, source: String, mapping: [String: Source]) throws {
        self.source = source
        files = [f]
        for (key, src) in mapping {
            let fileKey: String, shape: [Int], offset: Int
            switch src {
            case .key(let k):
                fileKey = k; shape = f.entries[k]!.shape; offset = 0
            case .reshaped(let k, let s):
                fileKey = k; shape = s; offset = 0
                guard s.reduce(1, *) == f.entries[k]!.shape.reduce(1, *) else {
                    throw ModelError("\(source): \(k) has shape \(shapeString(f.entries[k]!.shape)), which cannot be read as \(shapeString(s))")
                }
            case .rows(let k, let r):
                fileKey = k
                let full = f.entries[k]!.shape
                guard !full.isEmpty, r.lowerBound >= 0, r.upperBound <= full[0] else {
                    throw ModelError("\(source): \(k) has shape \(shapeString(full)), too small to split into rows \(r)")
                }
                shape = [r.count] + full.dropFirst(); offset = r.lowerBound * full.dropFirst().reduce(1, *)
            }
            shapes[key] = shape
            tensors[key] = {
                let t = try f.tensor(fileKey)
                switch src {
                case .key: return t
                case .reshaped(_, let s): return try t.reshaped(s)
                case .rows(_, let r): return try t.sliced(axis: 0, start: r.lowerBound, end: r.upperBound).copy()
                }
            }
            if f.entries[fileKey]!.dtype == .float16, let p = try f.bytes(fileKey).baseAddress { halves[key] = (p + 2 * offset, f) }
        }
    }

    /// An in-memory store (tests, converted checkpoints).
    public init(_ dict: [String: Tensor], source: String) {
        self.source = source
        for (k, v) in dict { shapes[k] = v.shape; tensors[k] = { v } }
    }

    /// A store that makes a fresh parameter for every key a model asks for, to train it from scratch.
    /// PyTorch's default initialisation: weights uniform in ±1/√fan_in, biases zero, norm scales one,
    /// embedding tables normal with σ 0.02. Each tensor's values depend only on (seed, key).
    public init(initializing seed: UInt64, source: String) {
        self.source = source
        initializer = { key, shape in
            var rng = RandomGenerator(seed: Seeds.named(seed, key))
            let last = key.split(separator: ".").last ?? ""
            if key.contains("embedding") && shape.count == 2 && !key.contains("time_embedding") { return (try! rng.normal(shape) * 0.02).param() }
            if last == "bias" { return Tensor(zeros: shape).param() }
            if shape.count == 1 { return Tensor(repeating: 1, shape: shape).param() }
            let fanIn = shape.dropFirst().reduce(1, *)
            let bound = 1 / Float(fanIn).squareRoot()
            return (try! rng.uniform(shape) * (2 * bound) - bound).param()
        }
    }
    var initializer: ((String, [Int]) -> Tensor)?
    var created: [String: Tensor] = [:]

    /// The parameters an initialising store made, by key.
    public var parameters: [String: Tensor] { created }

    public var keys: [String] { Array(tensors.keys) }

    /// The tensor at `key`, which must have `shape`; a problem is recorded (and zeros returned) otherwise,
    /// so that one load reports every missing or misshapen key at once.
    public func take(_ key: String, _ shape: [Int]) -> Tensor {
        used.insert(key)
        if let initializer, tensors[key] == nil {
            let t = initializer(key, shape)
            created[key] = t; shapes[key] = shape; tensors[key] = { t }
            return t
        }
        guard let load = tensors[key] else {
            problems.append("missing key \(key) (expected shape \(shapeString(shape)))")
            return Tensor(zeros: shape)
        }
        if shapes[key] != shape {
            problems.append("key \(key) has shape \(shapeString(shapes[key]!)), expected \(shapeString(shape))")
            return Tensor(zeros: shape)
        }
        do { return try load() } catch {
            problems.append("key \(key): \(error)")
            return Tensor(zeros: shape)
        }
    }

    public func has(_ key: String) -> Bool { tensors[key] != nil }

    /// A large weight: stays half precision (in the mapped file) when stored so, else Float32.
    public func takeWeight(_ key: String, _ shape: [Int]) -> Weight {
        if let (p, file) = halves[key], shapes[key] == shape {
            used.insert(key)
            return Weight(shape: shape, half: p, owner: file, scratch: widening)
        }
        return Weight(take(key, shape))
    }

    /// Throws when anything was missing or misshapen, or when keys were left unused (a different
    /// architecture than the config describes), naming the first few.
    public func finish(component: String, ignoring: (String) -> Bool = { _ in false }) throws {
        let unexpected = tensors.keys.filter { !used.contains($0) && !ignoring($0) }.sorted()
        var all = problems
        if !unexpected.isEmpty { all.append("unexpected keys: " + unexpected.prefix(5).joined(separator: ", ") + (unexpected.count > 5 ? " and \(unexpected.count - 5) more" : "")) }
        guard all.isEmpty else {
            throw ModelError("\(component) (\(source)): " + all.prefix(6).joined(separator: "; ") + (all.count > 6 ? "; and \(all.count - 6) more problems" : ""))
        }
    }
}
