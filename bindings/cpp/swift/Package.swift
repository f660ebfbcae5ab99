// swift-tools-version:5.9
// NOT BUILT IN CI. Link against libmoebius_edge built for the target platform (see bindings/cpp/README.md),
// e.g. `swift build -Xlinker -L<dir with libmoebius_edge>`.
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
