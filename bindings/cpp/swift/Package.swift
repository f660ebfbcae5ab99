// swift-tools-version:5.9
// Not built here (no Swift toolchain on the project's machines): build_on_mac.sh builds libmoebius_edge for the
// Mac and then this package, `swift build -Xlinker -L<dir with libmoebius_edge>` (see bindings/cpp/README.md).
import PackageDescription

let package = Package(
    name: "MoebiusEdge",
    platforms: [.iOS(.v17), .macOS(.v14)],
    products: [.library(name: "MoebiusEdge", targets: ["MoebiusEdge"])],
    targets: [
        .systemLibrary(name: "MoebiusEdgeC", path: "Sources/MoebiusEdgeC"),
        .target(name: "MoebiusEdge", dependencies: ["MoebiusEdgeC"]),
    ]
)
