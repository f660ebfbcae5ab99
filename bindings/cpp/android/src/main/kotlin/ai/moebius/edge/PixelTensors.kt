// Pixels ↔ the graphs' float tensors, in the C++ engine's (and Python's) float operations, so a loop driven
// from Kotlin gives the C ABI's picture bit for bit.
package ai.moebius.edge

object PixelTensors {
    private const val HOLE = 128  // a mask byte >= 128 marks a pixel to fill

    /** RGBA bytes → [1,3,S,S] in [-1,1] (alpha ignored). */
    @JvmStatic
    fun imageTensor(rgba: ByteArray, pixels: Int): FloatArray {
        val image = FloatArray(3 * pixels)
        for (p in 0 until pixels) {
            for (c in 0 until 3) image[c * pixels + p] = (rgba[4 * p + c].toInt() and 0xff).toFloat() / 255f * 2f - 1f
        }
        return image
    }

    /** Mask bytes → [1,1,S,S] in {0,1}. */
    @JvmStatic
    fun maskTensor(mask: ByteArray, pixels: Int): FloatArray =
        FloatArray(pixels) { p -> if ((mask[p].toInt() and 0xff) >= HOLE) 1f else 0f }

    /** The decoded [1,3,S,S] in [0,1] → opaque RGBA bytes, truncating as Python's tensor_to_image does. */
    @JvmStatic
    fun rgbaFromImage(image: FloatArray, pixels: Int): ByteArray {
        val rgba = ByteArray(4 * pixels)
        for (p in 0 until pixels) {
            for (c in 0 until 3) rgba[4 * p + c] = (Math.min(Math.max(image[c * pixels + p], 0f), 1f) * 255f).toInt().toByte()
            rgba[4 * p + 3] = 255.toByte()
        }
        return rgba
    }

    internal fun hasHole(mask: ByteArray, pixels: Int): Boolean = (0 until pixels).any { (mask[it].toInt() and 0xff) >= HOLE }

    /** An empty mask: the input with alpha 255, as the C ABI returns it. */
    internal fun opaqueCopy(rgba: ByteArray, pixels: Int): ByteArray {
        val out = rgba.copyOf(4 * pixels)
        for (p in 0 until pixels) out[4 * p + 3] = 255.toByte()
        return out
    }

    /** The C ABI's wrong-length error, for arrays read here before any native call. */
    internal fun requireLength(name: String, given: Int, needed: Int, unit: String) {
        if (given < needed) {
            throw MoebiusEdgeException(1, "MOEBIUS_ERROR_INVALID_ARGUMENT", "$name has $given $unit, this call needs $needed")
        }
    }
}
