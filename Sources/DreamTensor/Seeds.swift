import Foundation

/// Every seed derived from another, in one place: a stream's seed from the seed the user gave and what the
/// stream is for (a sampling batch, a learning step, a scene, a weight), so that streams never coincide and
/// every result is a function of the user's seeds. The formulas are kept exactly as first written: every
/// committed result (the world's references, fixtures, the reproduction) depends on them.
public enum Seeds {
    /// What a stream is for, added to the seed so that two purposes never share a stream.
    public enum Purpose: UInt64 {
        /// The sampler's noise for the batch of images starting at an index (`generate`).
        case sampling = 0x5eed
        /// One learning step's batch, crops, timesteps and noise.
        case learning = 0xD15
        /// A distribution's conditions (prompt choices and neighbourhood noise) for a sampling call.
        case conditions = 0xC0DE
        /// The evaluator's truth subsets for coverage and density.
        case truthSubsets = 0x5B5E_7000
        /// A round of redrawing the images that fell outside the references (sampling with redraws).
        case redraws = 0x2ED2_A000
        /// One learning step's batch for the blend beside competing prompts (its own, so that the competing
        /// prompts learn exactly as without it).
        case blend = 0xB1E_0D00
    }

    /// The stream for `purpose` at `index` (a step, a batch's first image, a subset): seed + tag + index × 2³²/φ
    /// (the subsets, from seed 0, step by one).
    public static func stream(_ seed: UInt64, _ purpose: Purpose, index: Int = 0) -> UInt64 {
        purpose == .truthSubsets ? seed &+ purpose.rawValue &+ UInt64(index) : seed &+ purpose.rawValue &+ UInt64(index) &* 0x9E37_79B9
    }

    /// Scene i of a world seed (`World.scenes`).
    public static func scene(_ seed: UInt64, _ i: Int) -> UInt64 { seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(i) &+ 1 }

    /// The n-th value of SplitMix64 started at `seed` (Steele, Lea and Flood 2014): the interpreter's seed for
    /// its n-th call without `seed:` under `--seed`.
    public static func splitMix(_ seed: UInt64, _ n: UInt64) -> UInt64 {
        var z = seed &+ n &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A training run's step `step` of stream `stream` (dream-train's stages): the three multiplied by odd
    /// constants, xor-ed and mixed.
    public static func trainingStep(_ seed: UInt64, stream: UInt64, step: Int) -> UInt64 {
        var x = seed &* 0x9E37_79B9_7F4A_7C15 ^ stream &* 0xBF58_476D_1CE4_E5B9 ^ UInt64(step) &* 0x94D0_49BB_1331_11EB
        x ^= x >> 31; x = x &* 0xD6E8_FEB8_6659_FD93; x ^= x >> 32
        return x
    }

    /// A named tensor's initial values (random weights by key).
    public static func named(_ seed: UInt64, _ name: String) -> UInt64 { seed ^ FNV1a.hash(name.utf8) }
}
