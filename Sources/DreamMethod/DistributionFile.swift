import Foundation
import DreamTensor
import DreamIO
import DreamModels

/// A distribution as a file holds it: its base model, the learned run (nil for a mix) and its encoding.
public struct SavedDistribution {
    public let sd: StableDiffusion
    public let learned: LearnedDistribution?
    public let encoded: EncodedDistribution
    public init(sd: StableDiffusion, learned: LearnedDistribution?, encoded: EncodedDistribution) {
        self.sd = sd; self.learned = learned; self.encoded = encoded
    }
}

/// Distributions in safetensors: prompts (when learned), mean and std, the references' manifold (when
/// known), with metadata naming the base model (path, name, config hash) and the learning settings.
public enum DistributionFile {
    public static let format = "dream-distribution", version = "1"

    public static func save(_ d: SavedDistribution, to path: String) throws {
        var tensors = ["mean": d.encoded.mean, "std": d.encoded.std]
        if let mf = d.encoded.manifold {
            tensors["manifold_features"] = mf.features
            tensors["manifold_radius"] = try Tensor([mf.radius], shape: [1])
        }
        let id = d.sd.identity
        var meta = ["format": format, "format_version": version, "model_path": (d.sd.path as NSString).standardizingPath,
                    "model_name": id.name, "model_config_hash": id.configHash]
        if let l = d.learned {
            tensors["prompts"] = l.dist.prompts
            if let (m1, m2) = l.moments { tensors["adam_m"] = m1; tensors["adam_v"] = m2 }
            let s = l.settings
            meta.merge(["k": "\(l.dist.k)", "m": "\(l.dist.m)", "prefix": l.dist.prefix, "suffix": l.dist.suffix,
                        "steps": "\(l.completedSteps)", "lr": "\(s.lr)", "batch": "\(s.batch)", "samples": "\(s.samples)",
                        "ortho": "\(s.ortho)", "seed": "\(s.seed)", "final_loss": "\(l.lastLoss)",
                        "objective": s.objective.rawValue, "prompt_cost": "\(s.promptCost)",
                        "lr_schedule": s.lrSchedule.rawValue, "ema": "\(s.ema)", "blend": s.objective == .compete && s.blend ? "1" : "0"]) { $1 }
            if let w = l.dist.weights { tensors["weights"] = try Tensor(w, shape: [w.count]) }
            if let a = l.assignment { tensors["assignment"] = a }
            if let c = l.choices { tensors["assignment_choices"] = try Tensor(c.map(Float.init), shape: [c.count]) }
            if let p = l.parameters { tensors["parameters"] = p }
            if let a = l.average { tensors["parameters_average"] = a }
            if !l.losses.isEmpty { tensors["losses"] = try Tensor(l.losses, shape: [l.losses.count]) }
        }
        try SafeTensors.save(tensors, metadata: meta, to: path)
    }

    /// A distribution from a file written by `save`, bound again to its base model (loaded by `model`).
    public static func load(_ f: SafeTensorsFile, model loadModel: (String) throws -> StableDiffusion) throws -> SavedDistribution {
        let meta = f.metadata
        guard meta["format"] == format else { throw FileError(f.path, "not a dream distribution") }
        guard meta["format_version"] == version else {
            throw FileError(f.path, "distribution format version \(meta["format_version"] ?? "?") is not supported (this dream reads \(version))")
        }
        guard let modelPath = meta["model_path"] else { throw FileError(f.path, "the file does not name its base model") }
        let sd: StableDiffusion
        do { sd = try loadModel(modelPath) } catch {
            throw FileError(f.path, "its base model \(meta["model_name"] ?? "?") (\(modelPath)) cannot be loaded: \(error)")
        }
        let id = sd.identity
        guard id.configHash == meta["model_config_hash"] else {
            throw FileError(f.path, "learned on model \(meta["model_name"] ?? "?") (config \(meta["model_config_hash"] ?? "?")), but \(modelPath) is now \(id.name) (config \(id.configHash)); refusing to use it with a different model")
        }
        let manifold = f.entries["manifold_features"] != nil && f.entries["manifold_radius"] != nil
            ? ReferenceManifold(features: try f.tensor("manifold_features"), radius: try f.tensor("manifold_radius").item) : nil
        guard f.entries["prompts"] != nil else {
            var e = EncodedDistribution(mean: try f.tensor("mean"), std: try f.tensor("std"))
            e.manifold = manifold
            return SavedDistribution(sd: sd, learned: nil, encoded: e)
        }
        let learned: LearnedDistribution
        do {
            let prompts = try f.tensor("prompts")
            guard let objective = Objective(rawValue: meta["objective"] ?? "paper") else {
                throw FileError(f.path, "learned with objective \"\(meta["objective"] ?? "")\", which this dream does not know (objectives: \(Objective.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            let weights = f.entries["weights"] != nil ? try f.tensor("weights").scalars : nil
            guard objective.isGaussian || weights?.count == prompts.shape[0] else {
                throw FileError(f.path, "a distribution of competing prompts needs one weight per prompt")
            }
            let dist = PromptDistribution(prompts: prompts, prefix: meta["prefix"] ?? "", suffix: meta["suffix"] ?? "", weights: weights)
            dist.manifold = manifold
            var s = LearningSettings()
            // Competing prompts with a blend hold it as their last prompt; files from before it existed have none.
            s.blend = objective == .compete && meta["blend"] == "1"
            s.prompts = dist.k - (s.blend ? 1 : 0); s.tokens = dist.m; s.prefix = dist.prefix; s.suffix = dist.suffix
            s.lr = Float(meta["lr"] ?? "") ?? s.lr; s.batch = Int(meta["batch"] ?? "") ?? s.batch
            s.samples = Int(meta["samples"] ?? "") ?? s.samples; s.ortho = Float(meta["ortho"] ?? "") ?? s.ortho
            s.seed = UInt64(meta["seed"] ?? "") ?? 0; s.objective = objective
            s.promptCost = Float(meta["prompt_cost"] ?? "") ?? 0   // files from before it was kept: none
            guard let schedule = LRSchedule(rawValue: meta["lr_schedule"] ?? "constant") else {   // before: constant
                throw FileError(f.path, "learned with lr_schedule \"\(meta["lr_schedule"] ?? "")\", which this dream does not know (schedules: \(LRSchedule.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            s.lrSchedule = schedule
            s.ema = Float(meta["ema"] ?? "") ?? 0   // files from before it was kept: no average
            let l = LearnedDistribution(dist, settings: s)
            let moments = f.entries["adam_m"] != nil && f.entries["adam_v"] != nil ? (try f.tensor("adam_m"), try f.tensor("adam_v")) : nil
            l.restore(steps: Int(meta["steps"] ?? "") ?? 0, loss: Float(meta["final_loss"] ?? "") ?? .nan,
                      losses: f.entries["losses"] != nil ? try f.tensor("losses").scalars : [], moments: moments,
                      assignment: f.entries["assignment"] != nil ? try f.tensor("assignment") : nil,
                      choices: f.entries["assignment_choices"] != nil ? try f.tensor("assignment_choices").scalars.map { Int($0) } : nil,
                      parameters: f.entries["parameters"] != nil ? try f.tensor("parameters") : nil,
                      average: f.entries["parameters_average"] != nil ? try f.tensor("parameters_average") : nil)
            learned = l
        }
        return SavedDistribution(sd: sd, learned: learned, encoded: try learned.dist.encoded(sd))
    }
}
