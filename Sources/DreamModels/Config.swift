import Foundation
import DreamTensor
import DreamIO

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
