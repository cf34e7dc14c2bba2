import Foundation
import DreamModels

/// Which diffusers scheduler's step schedule (timesteps and σs) a sampler runs on (see `StepSchedule.make`).
public enum SamplerFamily: String, CaseIterable {
    case ddim, euler, dpm
}

/// A sampler as generation uses it: its name, its step-schedule family, the function.
public struct SamplerEntry {
    public let name: String
    public let family: SamplerFamily
    public let run: Sampler
    public init(_ name: String, _ family: SamplerFamily, _ run: @escaping Sampler) {
        self.name = name; self.family = family; self.run = run
    }
}

/// The samplers one session can use: dream's own and those its plugins added. An instance (owned by the
/// session), so that what one session's plugins add is not seen by another.
public final class SamplerRegistry {
    public private(set) var entries: [String: SamplerEntry]
    public init() { entries = Samplers.builtin }

    public subscript(name: String) -> SamplerEntry? { entries[name] }
    public var names: [String] { entries.keys.sorted() }

    /// The family named `family`, if a sampler `name` of it could be added: the name free, the family known.
    public func validate(_ name: String, family: String) throws -> SamplerFamily {
        guard entries[name] == nil else { throw ModelError("a sampler named \"\(name)\" already exists") }
        guard let f = SamplerFamily(rawValue: family) else {
            throw ModelError("sampler \"\(name)\": unknown step-schedule family \"\(family)\" (one of \(SamplerFamily.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        return f
    }

    /// Adds a sampler (from a plugin), after `validate`'s checks.
    public func register(_ name: String, family: String, _ sampler: @escaping Sampler) throws {
        entries[name] = SamplerEntry(name, try validate(name, family: family), sampler)
    }
}
