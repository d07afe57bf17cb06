package org.ward.kit

import java.awt.image.BufferedImage
import java.awt.image.DataBufferInt
import java.io.ByteArrayOutputStream
import java.util.Random
import javax.imageio.ImageIO

/** Small JPEGs made in memory for the view-model tests (what a camera hands over). */
object TestImages {
    fun jpeg(width: Int, height: Int, seed: Long): ByteArray {
        val image = BufferedImage(width, height, BufferedImage.TYPE_INT_RGB)
        val pixels = (image.raster.dataBuffer as DataBufferInt).data
        val random = Random(seed)
        for (i in pixels.indices) pixels[i] = random.nextInt() and 0xFFFFFF
        val out = ByteArrayOutputStream()
        ImageIO.write(image, "jpeg", out)
        return out.toByteArray()
    }
}
