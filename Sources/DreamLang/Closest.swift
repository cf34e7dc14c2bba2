import Foundation
import DreamTensor
import DreamIO

/// The candidate nearest to `name` by edit distance, when near enough to be a likely typo.
public func closest(_ name: String, among candidates: [String]) -> String? {
    // Edit distance with adjacent transpositions (optimal string alignment): "mena" is one step from "mean".
    func distance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
        var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { d[i][0] = i }
        for j in 0...b.count { d[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] { d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1) }
            }
        }
        return d[a.count][b.count]
    }
    let a = Array(name.lowercased())
    var best: (name: String, d: Int)? = nil
    for c in candidates.sorted() {
        let d: Int = distance(a, Array(c.lowercased()))
        if best == nil || d < best!.d { best = (c, d) }
    }
    guard let best else { return nil }
    return best.d <= max(2, name.count / 3) ? best.name : nil
}
