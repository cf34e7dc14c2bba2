import Foundation
import DreamLang
import DreamAssets
import DreamTensor
import DreamModels
import DreamDiffusion
import DreamMethod
import DreamIO

/// A prompt distribution as a language value: learned (with its prompts) or mixed (mean and σ only).
public final class DistributionValue: DreamObject {
    public let sd: StableDiffusion
    public let learned: LearnedDistribution?
    /// What sampling uses, encoded once.
    public let encoded: EncodedDistribution
    public var mean: Tensor { encoded.mean }
    public var std: Tensor { encoded.std }

    init(sd: StableDiffusion, learned: LearnedDistribution?, encoded: EncodedDistribution) {
        self.sd = sd; self.learned = learned; self.encoded = encoded
    }

    /// A learned distribution's value, encoded from its prompts and text.
    convenience init(sd: StableDiffusion, learned: LearnedDistribution) throws {
        self.init(sd: sd, learned: learned, encoded: try learned.dist.encoded(sd))
    }

    public var typeName: String { "distribution" }
    public var summary: String {
        if let l = learned {
            let blend = l.settings.objective == .compete && l.settings.blend ? " and a blend" : ""
            return "distribution K=\(l.settings.prompts)\(blend) M=\(l.dist.m), objective \(l.settings.objective.rawValue), \(l.completedSteps) steps, loss \(formatNumber(Double(l.lastLoss)))"
        }
        return "distribution (mixture) \(shapeString(mean.shape))"
    }
    public var memberNames: [String] { ["mean", "std", "prompts", "k", "tokens", "steps", "loss", "losses", "objective", "weights"] }
    public func member(_ name: String) throws -> Value? {
        switch name {
        case "mean": return .tensor(mean)
        case "std": return .tensor(std)
        case "prompts", "k", "tokens", "steps", "loss", "losses", "objective", "weights":
            guard let l = learned else {
                throw ArgumentError("a mixed distribution has no \(name): mix keeps only the mean and std of its parts (D.mean, D.std)")
            }
            switch name {
            case "prompts": return .tensor(l.dist.prompts)
            case "k": return .number(Double(l.dist.k))
            case "tokens": return .number(Double(l.dist.m))
            case "steps": return .number(Double(l.completedSteps))
            case "loss": return .number(Double(l.lastLoss))
            case "losses": return .list(l.losses.map { .number(Double($0)) })
            case "objective": return .string(l.settings.objective.rawValue)
            default: return .list((l.dist.weights ?? [Float](repeating: 1 / Float(l.dist.k), count: l.dist.k)).map { .number(Double($0)) })
            }
        default: return nil
        }
    }
}

extension DistributionValue: SavableObject {
    public func save(to path: String) throws {
        try DistributionFile.save(SavedDistribution(sd: sd, learned: learned, encoded: encoded), to: path)
    }
}

extension Args {
    func distribution(_ n: String) throws -> DistributionValue {
        guard case .object(let o) = self[n], let d = o as? DistributionValue else {
            throw ArgumentError("\(function.qualifiedName): argument '\(n)' must be a distribution (from learn or mix), got \(describeForError(self[n]))", argument: n)
        }
        return d
    }

    func optionalDistribution(_ n: String) throws -> DistributionValue? {
        if case .none = self[n] { return nil }
        return try distribution(n)
    }
}
