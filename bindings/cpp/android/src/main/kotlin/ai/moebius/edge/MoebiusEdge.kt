// Kotlin core of the Android wrapper: the whole C ABI through JNI (../../../../../../jni/moebius_edge_jni.cpp) with
// JDK types only (arrays), so the host JVM test runs it; android/Bitmaps.kt adds Bitmap in and out.
// Kotlin 1.3 syntax (Debian's kotlinc compiles it for the test), also valid for current Kotlin.
package ai.moebius.edge

import java.io.Closeable

/** A failure reported by the C ABI: [code] is its moebius_status (2 = NOT_FOUND, 6 = IMAGE_SIZE...), [status] its name. */
class MoebiusEdgeException(val code: Int, val status: String, message: String) : Exception(message) {
    override fun toString(): String = "$status: $message"
}

/** What the bundle's manifest says (moebius_info). */
data class BundleInfo(
    val imageSize: Int, val latentSize: Int, val latentChannels: Int, val steps: Int,
    val strength: Float, val guidanceScale: Float,
    val backend: String, val precision: String, val model: String,
    /** The loop's start when strength < 1: x0 = startSignal * cleanLatents + startNoise * noise. */
    val startSignal: Float, val startNoise: Float
) {
    val latentCount: Int get() = latentChannels * latentSize * latentSize
}

/** Wall-clock milliseconds of the last [MoebiusEdge.inpaint] (openMs: of [MoebiusEdge.open]). */
data class Timings(
    val openMs: Double, val encodeMs: Double, val denoiseMs: Double,
    val stepMinMs: Double, val stepMeanMs: Double, val stepMaxMs: Double,
    val decodeMs: Double, val pasteMs: Double, val totalMs: Double, val steps: Int
)

/** The encode graph's outputs, the step graph's fixed inputs. [cleanLatents] is null when strength is 1. */
class Encoded(val maskedLatents: FloatArray, val maskLatent: FloatArray, val cleanLatents: FloatArray?)

/**
 * An opened ExecuTorch bundle (a folder: manifest.json + encode/step/decode .pte).
 *
 *   MoebiusEdge.open(bundleDir).use { engine ->
 *       val filled = engine.inpaintStepByStep(rgba, side, side, mask, seed = 7) { step, steps, ms -> progress(step, steps) }
 *   }
 * Not thread-safe: use one instance per thread, off the UI thread (an inpaint takes seconds).
 * Every failure, a closed engine included, is a [MoebiusEdgeException] with the C ABI's code and message.
 */
class MoebiusEdge private constructor(private var handle: Long) : Closeable {
    val info: BundleInfo = nativeInfo(handle)

    /** Fills the hole of [rgba] (width*height*4 bytes, R,G,B,A) where [mask] (width*height bytes) is >= 128, in one C ABI call. */
    fun inpaint(rgba: ByteArray, width: Int, height: Int, mask: ByteArray, seed: Long = 0, noise: FloatArray? = null): ByteArray =
        nativeInpaint(handle, rgba, width, height, mask, noise, seed)

    /**
     * The same picture as [inpaint], driven from here through [encode], [step] and [decode], calling [onStep]
     * (step done, steps, its milliseconds) after every step: for a progress bar, or to cancel by throwing.
     */
    fun inpaintStepByStep(
        rgba: ByteArray, width: Int, height: Int, mask: ByteArray, seed: Long = 0, noise: FloatArray? = null,
        onStep: (step: Int, steps: Int, stepMs: Double) -> Unit
    ): ByteArray {
        val side = info.imageSize
        if (width != side || height != side) {
            throw MoebiusEdgeException(6, "MOEBIUS_ERROR_IMAGE_SIZE", "image is ${width}x$height, this bundle runs at ${side}x$side")
        }
        PixelTensors.requireLength("rgba", rgba.size, side * side * 4, "bytes")
        PixelTensors.requireLength("mask", mask.size, side * side, "bytes")
        if (!PixelTensors.hasHole(mask, side * side)) return PixelTensors.opaqueCopy(rgba, side * side)

        val encoded = encode(PixelTensors.imageTensor(rgba, side * side), PixelTensors.maskTensor(mask, side * side))
        var x = startLatents(encoded, noise ?: seededNoise(seed, info.latentCount))
        for (i in 0 until info.steps) {
            val started = System.nanoTime()
            x = step(x, encoded, i)
            onStep(i + 1, info.steps, (System.nanoTime() - started) / 1e6)
        }
        val generated = PixelTensors.rgbaFromImage(decode(x), side * side)
        return pasteHole(rgba, generated, mask, width, height)
    }

    /** image: [1,3,S,S] in [-1,1]; mask: [1,1,S,S] in {0,1} (see [PixelTensors]). */
    fun encode(image: FloatArray, mask: FloatArray): Encoded {
        val latents = info.latentCount
        val encoded = Encoded(FloatArray(latents), FloatArray(info.latentSize * info.latentSize),
            if (info.strength < 1f) FloatArray(latents) else null)
        nativeEncode(handle, image, mask, encoded.maskedLatents, encoded.maskLatent, encoded.cleanLatents)
        return encoded
    }

    /** The first x of the loop: the noise, or mixed with the clean latents when strength < 1 (as the C ABI's inpaint does). */
    fun startLatents(encoded: Encoded, noise: FloatArray): FloatArray {
        if (noise.size != info.latentCount) {
            throw MoebiusEdgeException(1, "MOEBIUS_ERROR_INVALID_ARGUMENT", "noise has ${noise.size} values, the model needs ${info.latentCount}")
        }
        val clean = encoded.cleanLatents ?: return noise.copyOf()
        return FloatArray(noise.size) { k -> info.startSignal * clean[k] + info.startNoise * noise[k] }
    }

    /** One denoising step, [index] in [0, steps): the next x. */
    fun step(x: FloatArray, encoded: Encoded, index: Int): FloatArray {
        val next = FloatArray(info.latentCount)
        nativeStep(handle, x, encoded.maskedLatents, encoded.maskLatent, index, next)
        return next
    }

    /** x → image [1,3,S,S] in [0,1]. */
    fun decode(x: FloatArray): FloatArray {
        val image = FloatArray(3 * info.imageSize * info.imageSize)
        nativeDecode(handle, x, image)
        return image
    }

    /** Of the last [inpaint]. */
    val timings: Timings get() = nativeTimings(handle)

    /** Each step's milliseconds in the last [inpaint]. */
    val stepTimesMs: DoubleArray get() = nativeStepTimes(handle)

    override fun close() {
        nativeClose(handle)
        handle = 0L
    }

    companion object {
        /** The C ABI version this wrapper was written for (MOEBIUS_EDGE_ABI_VERSION). */
        const val ABI_VERSION = 2
        const val SKIP_CHECKSUMS = 1
        /** MOEBIUS_OPEN_LOAD_IN_TURN: one graph in memory at a time; each inpaint reloads the graphs (slower). */
        const val LOAD_IN_TURN = 2

        /** MOEBIUS_OPEN_THREADS(count): the size of ExecuTorch's (process-wide) thread pool, 1 to 255; OR it into the flags. */
        @JvmStatic
        fun threads(count: Int): Int {
            require(count in 1..255) { "threads must be 1 to 255, got $count" }
            return count shl 8
        }

        /** MOEBIUS_EDGE_ABI_VERSION of the library actually loaded. */
        val abiVersion: Int

        init {
            System.loadLibrary("moebius_edge_jni")
            abiVersion = nativeAbiVersion()
        }

        /** Opens a bundle folder; throws [MoebiusEdgeException] (not found, corrupt, unsupported...). */
        @JvmStatic
        @JvmOverloads
        fun open(bundleDir: String, flags: Int = 0): MoebiusEdge {
            if (abiVersion != ABI_VERSION) {
                throw MoebiusEdgeException(4, "MOEBIUS_ERROR_UNSUPPORTED",
                    "libmoebius_edge has C ABI version $abiVersion, this wrapper needs $ABI_VERSION")
            }
            val handle = nativeOpen(bundleDir, flags)
            try {
                return MoebiusEdge(handle)
            } catch (error: Throwable) {  // reading the info failed: do not leak the engine
                nativeClose(handle)
                throw error
            }
        }

        /** The runtime's seeded standard-normal noise (the same numbers on every platform; not torch's). */
        @JvmStatic
        fun seededNoise(seed: Long, count: Int): FloatArray {
            val noise = FloatArray(count)
            nativeSeededNoise(seed, noise)
            return noise
        }

        /** Blends [generated] into [original] through the blurred hole (mask >= 128), exactly as the Python SDK does. */
        @JvmStatic
        fun pasteHole(original: ByteArray, generated: ByteArray, mask: ByteArray, width: Int, height: Int): ByteArray {
            val out = ByteArray(original.size)
            nativePasteHole(original, generated, mask, width, height, out)
            return out
        }
    }
}

// Top-level natives compile to static methods of ai.moebius.edge.MoebiusEdgeKt, the names the JNI glue exports.
private external fun nativeAbiVersion(): Int
private external fun nativeOpen(bundleDir: String, flags: Int): Long
private external fun nativeClose(handle: Long)
private external fun nativeInfo(handle: Long): BundleInfo
private external fun nativeInpaint(
    handle: Long, rgba: ByteArray, width: Int, height: Int, mask: ByteArray, noise: FloatArray?, seed: Long
): ByteArray
private external fun nativeEncode(
    handle: Long, image: FloatArray, mask: FloatArray, outMaskedLatents: FloatArray, outMaskLatent: FloatArray,
    outCleanLatents: FloatArray?
)
private external fun nativeStep(
    handle: Long, x: FloatArray, maskedLatents: FloatArray, maskLatent: FloatArray, index: Int, outX: FloatArray
)
private external fun nativeDecode(handle: Long, x: FloatArray, outImage: FloatArray)
private external fun nativePasteHole(
    original: ByteArray, generated: ByteArray, mask: ByteArray, width: Int, height: Int, outRgba: ByteArray
)
private external fun nativeSeededNoise(seed: Long, out: FloatArray)
private external fun nativeTimings(handle: Long): Timings
private external fun nativeStepTimes(handle: Long): DoubleArray
