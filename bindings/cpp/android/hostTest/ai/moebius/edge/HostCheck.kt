// The host JVM check of the Kotlin core, run by tests/test_bindings_kotlin.py:
//   java -Djava.library.path=<dir of libmoebius_edge_jni> -cp host-check.jar ai.moebius.edge.HostCheckKt CONFIG OUT
// CONFIG (java.util.Properties) names the bundles and the conformance sample; OUT receives each output picture
// (raw RGBA) and report.txt, UTF-8 "key=value" lines (info, callbacks, timings, and every error's code, status
// and message). The pytest side compares all of it with the C ABI called directly.
package ai.moebius.edge

import java.io.File
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.util.Properties

fun main(args: Array<String>) {
    val config = Properties()
    File(args[0]).inputStream().use { config.load(it) }
    val out = File(args[1])
    val report = LinkedHashMap<String, String>()
    report.put("abi_version", MoebiusEdge.abiVersion.toString())

    for (name in config.getProperty("bundles").split(",")) {
        val rgba = File(config.getProperty("image")).readBytes()
        val mask = File(config.getProperty("mask")).readBytes()
        val noise = floats(File(config.getProperty("noise")))
        val seed = config.getProperty("seed").toLong()
        MoebiusEdge.open(config.getProperty("$name.dir")).use { engine ->
            val info = engine.info
            report.put("$name.info", listOf(info.imageSize, info.latentSize, info.latentChannels, info.steps,
                info.backend, info.precision, info.model).joinToString(","))
            val side = info.imageSize
            File(out, "$name.noise.rgba").writeBytes(engine.inpaint(rgba, side, side, mask, noise = noise))
            val timings = engine.timings
            report.put("$name.timings", listOf(timings.encodeMs, timings.denoiseMs, timings.decodeMs, timings.totalMs,
                timings.steps).joinToString(","))
            report.put("$name.step_times", engine.stepTimesMs.joinToString(","))

            val calls = ArrayList<String>()
            val stepwise = engine.inpaintStepByStep(rgba, side, side, mask, seed = seed) { step, steps, stepMs ->
                calls.add("$step/$steps/${stepMs > 0}")
            }
            File(out, "$name.seeded_stepwise.rgba").writeBytes(stepwise)
            report.put("$name.callbacks", calls.joinToString(","))

            if (name == config.getProperty("error_bundle")) {
                val encoded = Encoded(FloatArray(info.latentCount), FloatArray(info.latentSize * info.latentSize), null)
                val x = FloatArray(info.latentCount)
                val small = side / 2
                record(report, "short_rgba") { engine.inpaint(rgba.copyOf(rgba.size - 1), side, side, mask) }
                record(report, "short_mask") { engine.inpaint(rgba, side, side, mask.copyOf(side)) }
                record(report, "short_noise") { engine.inpaint(rgba, side, side, mask, noise = FloatArray(10)) }
                // The step-by-step loop checks its arrays in Kotlin, with the C ABI's wording.
                record(report, "stepwise_short_rgba") { engine.inpaintStepByStep(rgba.copyOf(rgba.size - 1), side, side, mask) { _, _, _ -> } }
                record(report, "stepwise_short_noise") { engine.inpaintStepByStep(rgba, side, side, mask, noise = FloatArray(10)) { _, _, _ -> } }
                record(report, "wrong_image_size") { engine.inpaint(ByteArray(small * small * 4), small, small, ByteArray(small * small)) }
                record(report, "short_image_tensor") { engine.encode(FloatArray(3), FloatArray(side * side)) }
                record(report, "short_x") { engine.step(FloatArray(5), encoded, 0) }
                record(report, "step_index_out_of_range") { engine.step(x, encoded, info.steps) }
                record(report, "short_decode_x") { engine.decode(FloatArray(7)) }
                engine.close()
                record(report, "closed_engine_inpaint") { engine.inpaint(rgba, side, side, mask) }
                record(report, "closed_engine_timings") { engine.timings }
            }
        }
    }
    record(report, "missing_bundle") { MoebiusEdge.open(config.getProperty("missing_bundle")) }
    record(report, "corrupt_bundle") { MoebiusEdge.open(config.getProperty("corrupt_bundle")) }
    record(report, "short_paste_mask") { MoebiusEdge.pasteHole(ByteArray(16), ByteArray(16), ByteArray(3), 2, 2) }
    val seeded = MoebiusEdge.seededNoise(config.getProperty("seed").toLong(), 1001)
    val bytes = ByteBuffer.allocate(seeded.size * 4).order(ByteOrder.LITTLE_ENDIAN)
    seeded.forEach { bytes.putFloat(it) }
    File(out, "seeded_noise.f32").writeBytes(bytes.array())

    File(out, "report.txt").writeText(report.entries.joinToString("") { "${it.key}=${it.value}\n" }, Charsets.UTF_8)
}

/** Runs [body], which must fail: records the MoebiusEdgeException's code, status name and message. */
private fun record(report: MutableMap<String, String>, case: String, body: () -> Any?) {
    try {
        body()
        report.put("error.$case", "no exception")
    } catch (error: MoebiusEdgeException) {
        report.put("error.$case", "${error.code}|${error.status}|${error.message}")
    }
}

private fun floats(file: File): FloatArray {
    val buffer = ByteBuffer.wrap(file.readBytes()).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer()
    val values = FloatArray(buffer.remaining())
    buffer.get(values)
    return values
}
