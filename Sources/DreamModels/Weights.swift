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
            var rng = RandomGenerator(seed: seed ^ FNV1a.hash(key.utf8))
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
            return Weight(shape: shape, half: p, owner: file)
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

/// A problem with a model: its files, config or architecture.
public struct ModelError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A diffusers `config.json`, read with defaults.
public struct Config {
    public let values: [String: Any]
    public let path: String

    public init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw FileError(path, "no such file") }
        guard let v = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { throw FileError(path, "not a JSON object") }
        values = v
        self.path = path
    }

    public init(_ values: [String: Any], path: String = "<config>") { self.values = values; self.path = path }

    public func int(_ k: String, _ d: Int? = nil) throws -> Int {
        if let n = values[k] as? NSNumber { return n.intValue }
        if let d { return d }
        throw FileError(path, "missing integer '\(k)'")
    }
    public func float(_ k: String, _ d: Float? = nil) throws -> Float {
        if let n = values[k] as? NSNumber { return n.floatValue }
        if let d { return d }
        throw FileError(path, "missing number '\(k)'")
    }
    public func bool(_ k: String, _ d: Bool) -> Bool { (values[k] as? NSNumber)?.boolValue ?? d }
    public func string(_ k: String, _ d: String? = nil) throws -> String {
        if let s = values[k] as? String { return s }
        if let d { return d }
        throw FileError(path, "missing string '\(k)'")
    }
    public func ints(_ k: String) throws -> [Int] {
        if let a = values[k] as? [NSNumber] { return a.map(\.intValue) }
        throw FileError(path, "missing list of integers '\(k)'")
    }
    public func strings(_ k: String) throws -> [String] {
        if let a = values[k] as? [String] { return a }
        throw FileError(path, "missing list of strings '\(k)'")
    }
    /// An integer or a per-block list of them (diffusers' attention_head_dim).
    public func intOrList(_ k: String, count: Int) throws -> [Int]? {
        if let n = values[k] as? NSNumber { return [Int](repeating: n.intValue, count: count) }
        if let a = values[k] as? [NSNumber] { return a.map(\.intValue) }
        return nil
    }
    public func isNull(_ k: String) -> Bool { values[k] == nil || values[k] is NSNull }
}

/// A layer's weight matrix or kernel, in Float32 or kept in half precision and widened for each use:
/// SD 1.5's UNet then needs 1.7 GB for its weights instead of 3.4 GB, for a conversion per call that
/// costs a few percent of the call.
public struct Weight {
    public let shape: [Int]
    let full: Tensor?
    let half: UnsafeRawPointer?
    let owner: AnyObject?

    public init(_ t: Tensor) { shape = t.shape; full = t; half = nil; owner = nil }
    init(shape: [Int], half: UnsafeRawPointer, owner: AnyObject) { self.shape = shape; full = nil; self.half = half; self.owner = owner }

    public var isHalf: Bool { half != nil }

    /// Rows `rows` of a matrix [out, in]: for half weights a view of the same memory, otherwise a
    /// recorded slice (so that a trained weight still gets its gradient).
    public func rows(_ rows: Range<Int>) throws -> Weight {
        let width = shape.dropFirst().reduce(1, *), shape = [rows.count] + Array(self.shape.dropFirst())
        if let half { return Weight(shape: shape, half: half + rows.lowerBound * width * 2, owner: owner!) }
        return Weight(try full!.sliced(axis: 0, start: rows.lowerBound, end: rows.upperBound))
    }

    /// The values as a Float32 tensor (a fresh one for half weights).
    /// One buffer reused for widened weights during inference, so that converting a layer's weight does
    /// not allocate (and fault in) fresh memory for every call. Reused only when nothing else holds it.
    nonisolated(unsafe) static var scratch: Storage? = nil
    static let scratchLock = NSLock()

    public func tensor() -> Tensor {
        if let full { return full }
        let n = shape.reduce(1, *)
        var storage: Storage
        if !GradMode.isEnabled {
            Weight.scratchLock.lock()
            defer { Weight.scratchLock.unlock() }
            if Weight.scratch == nil || Weight.scratch!.count < n || !isKnownUniquelyReferenced(&Weight.scratch!) {
                Weight.scratch = Storage(count: max(n, Weight.scratch?.count ?? 0))
            }
            storage = Weight.scratch!
        } else {
            storage = Storage(count: n)
        }
        DType.float16.convert(half!, count: n, to: storage.pointer)
        // A view of the first n values: a Storage of exactly n that shares nothing is needed for Tensor,
        // so wrap when the scratch is larger.
        if storage.count == n { return Tensor(shape: shape, storage: storage) }
        return Tensor(shape: shape, storage: storage.prefix(n))
    }
}
