import Foundation
import DreamIO

/// CLIP's byte-level BPE tokenizer, as transformers' CLIPTokenizer (the one diffusers pipelines use):
/// NFC, runs of white space to one space, lower case; split by CLIP's pattern
/// `<|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+`; each piece's UTF-8
/// bytes mapped to printable characters, "</w>" on the last, merged by rank; [BOS] … [EOS] in 77
/// positions (EOS kept when truncating), padded with the configured token.
public final class CLIPTokenizer {
    public let vocab: [String: Int]
    let ranks: [Pair: Int]
    public let bos: Int, eos: Int, pad: Int
    public let maxLength: Int
    /// Texts matched whole in the raw input, before normalisation, as the tokenizers library does with
    /// special tokens: BOS, EOS and the pad token (SD 2.x pads with "!", so a "!" typed in a prompt is id 0
    /// there, exactly as in diffusers).
    let specials: [String: Int]
    public static var byteCharacters: [Character] { byteChars }
    static let byteChars: [Character] = {
        // bytes_to_unicode: printable bytes map to themselves, the rest to 256 + n.
        var bs = Array(33...126) + Array(161...172) + Array(174...255)
        var cs = bs
        var n = 0
        for b in 0..<256 where !bs.contains(b) { bs.append(b); cs.append(256 + n); n += 1 }
        var table = [Character](repeating: " ", count: 256)
        for (b, c) in zip(bs, cs) { table[b] = Character(Unicode.Scalar(UInt32(c))!) }
        return table
    }()
    var cache: [String: [Int]] = [:]

    struct Pair: Hashable { let a: String, b: String }

    /// `vocab.json` and `merges.txt` as in a diffusers `tokenizer/` folder; `padToken` from its config.
    public init(vocabPath: String, mergesPath: String, padToken: String = "<|endoftext|>", maxLength: Int = 77) throws {
        guard let vdata = FileManager.default.contents(atPath: vocabPath) else { throw FileError(vocabPath, "no such file") }
        guard let v = (try? JSONSerialization.jsonObject(with: vdata)) as? [String: Int] else {
            throw FileError(vocabPath, "not a JSON object of token → id")
        }
        guard let mtext = try? String(contentsOfFile: mergesPath, encoding: .utf8) else { throw FileError(mergesPath, "no such file or not UTF-8") }
        var ranks: [Pair: Int] = [:]
        for line in mtext.split(separator: "\n") where !line.hasPrefix("#version") {
            let parts = line.split(separator: " ")
            guard parts.count == 2 else { continue }
            ranks[Pair(a: String(parts[0]), b: String(parts[1]))] = ranks.count
        }
        guard let bos = v["<|startoftext|>"], let eos = v["<|endoftext|>"] else {
            throw FileError(vocabPath, "the vocabulary lacks <|startoftext|> or <|endoftext|>")
        }
        guard let pad = v[padToken] else { throw FileError(vocabPath, "the pad token \(padToken) is not in the vocabulary") }
        self.vocab = v; self.ranks = ranks; self.bos = bos; self.eos = eos; self.pad = pad; self.maxLength = maxLength
        self.specials = ["<|startoftext|>": bos, "<|endoftext|>": eos, padToken: pad]
    }

    /// Token ids of `text`: exactly `maxLength` of them.
    public func encode(_ text: String) -> [Int] {
        var ids = [bos] + tokens(text)
        if ids.count > maxLength - 1 { ids = Array(ids.prefix(maxLength - 1)) }
        ids.append(eos)
        return ids + [Int](repeating: pad, count: maxLength - ids.count)
    }

    /// Token ids without BOS, EOS or padding (for counting how many positions words take).
    public func tokens(_ text: String) -> [Int] {
        pieces(text).flatMap { piece -> [Int] in
            switch piece {
            case .special(let id): return [id]
            case .text(let t): return bpe(t)
            }
        }
    }

    static func isLetter(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }
    static func isNumber(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }

    enum Piece { case special(Int), text(String) }

    /// Splits out special tokens written exactly (leftmost, then longest), then normalises and splits
    /// the text between them by CLIP's pattern.
    func pieces(_ text: String) -> [Piece] {
        var out: [Piece] = []
        var rest = Substring(text)
        func plain(_ s: Substring) { out += split(normalize(String(s))).map { specials[$0].map(Piece.special) ?? .text($0) } }
        while !rest.isEmpty {
            let found = specials.keys.compactMap { s in rest.range(of: s).map { (s, $0) } }
            guard let (s, r) = found.min(by: { ($0.1.lowerBound, -$0.0.count) < ($1.1.lowerBound, -$1.0.count) }) else {
                plain(rest); break
            }
            plain(rest[..<r.lowerBound])
            out.append(.special(specials[s]!))
            rest = rest[r.upperBound...]
        }
        return out
    }

    func normalize(_ s: String) -> String {
        var t = s.precomposedStringWithCanonicalMapping
        t = t.replacingOccurrences(of: "\\s+", with: " ", options: .regularExpression)
        return t.lowercased()
    }

    func split(_ s: String) -> [String] {
        let scalars = Array(s.unicodeScalars)
        var out: [String] = []
        var i = 0
        func str(_ a: Int, _ b: Int) -> String { var x = ""; x.unicodeScalars.append(contentsOf: scalars[a..<b]); return x }
        func startsWith(_ lit: String) -> Bool {
            let l = Array(lit.unicodeScalars)
            return i + l.count <= scalars.count && Array(scalars[i..<(i + l.count)]) == l
        }
        while i < scalars.count {
            let c = scalars[i]
            if c.properties.isWhitespace { i += 1; continue }
            if let special = ["<|startoftext|>", "<|endoftext|>"].first(where: startsWith) {
                out.append(special); i += special.unicodeScalars.count; continue
            }
            if let contraction = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"].first(where: startsWith) {
                out.append(contraction); i += contraction.unicodeScalars.count; continue
            }
            var j = i + 1
            if Self.isLetter(c) {
                while j < scalars.count && Self.isLetter(scalars[j]) { j += 1 }
            } else if !Self.isNumber(c) {
                while j < scalars.count && !scalars[j].properties.isWhitespace && !Self.isLetter(scalars[j]) && !Self.isNumber(scalars[j]) { j += 1 }
            }
            out.append(str(i, j))
            i = j
        }
        return out
    }

    /// Byte-pair merges of one piece, lowest rank first, then vocabulary ids.
    func bpe(_ piece: String) -> [Int] {
        if let hit = cache[piece] { return hit }
        var word = Array(piece.utf8).map { String(Self.byteChars[Int($0)]) }
        guard !word.isEmpty else { return [] }
        word[word.count - 1] += "</w>"
        while word.count > 1 {
            var best: (rank: Int, at: Int)? = nil
            for k in 0..<(word.count - 1) {
                if let r = ranks[Pair(a: word[k], b: word[k + 1])], best == nil || r < best!.rank { best = (r, k) }
            }
            guard let best else { break }
            let (a, b) = (word[best.at], word[best.at + 1])
            var merged: [String] = []
            var k = 0
            while k < word.count {
                if k < word.count - 1 && word[k] == a && word[k + 1] == b { merged.append(a + b); k += 2 } else { merged.append(word[k]); k += 1 }
            }
            word = merged
        }
        let ids = word.map { vocab[$0] ?? eos }
        cache[piece] = ids
        return ids
    }
}
