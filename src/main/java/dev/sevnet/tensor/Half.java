package dev.sevnet.tensor;

/** IEEE 754 binary16 and bfloat16 conversions (Java 17 has no Float.float16ToFloat). */
public final class Half {
    private Half() {
    }

    public static float toFloat(short h) {
        int bits = h & 0xffff;
        int sign = (bits & 0x8000) << 16;
        int exp = (bits >>> 10) & 0x1f;
        int mant = bits & 0x3ff;
        if (exp == 0) {
            if (mant == 0) {
                return Float.intBitsToFloat(sign);
            }
            // subnormal: value = mant * 2^-24
            float v = mant * 0x1p-24f;
            return sign != 0 ? -v : v;
        }
        if (exp == 0x1f) {
            return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
        }
        return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
    }

    /** Round-to-nearest-even float → binary16. */
    public static short fromFloat(float f) {
        int x = Float.floatToRawIntBits(f);
        int sign = (x >>> 16) & 0x8000;
        int exp = ((x >>> 23) & 0xff) - 127 + 15;
        int mant = x & 0x7fffff;
        if (((x >>> 23) & 0xff) == 0xff) {
            return (short) (sign | 0x7c00 | (mant != 0 ? 0x200 : 0));
        }
        if (exp >= 0x1f) {
            return (short) (sign | 0x7c00);
        }
        if (exp <= 0) {
            if (exp < -10) {
                return (short) sign;
            }
            mant |= 0x800000;
            int shift = 14 - exp;
            int half = mant >>> shift;
            int rem = mant & ((1 << shift) - 1);
            int mid = 1 << (shift - 1);
            if (rem > mid || (rem == mid && (half & 1) != 0)) {
                half++;
            }
            return (short) (sign | half);
        }
        int h = sign | (exp << 10) | (mant >>> 13);
        int rem = mant & 0x1fff;
        if (rem > 0x1000 || (rem == 0x1000 && (h & 1) != 0)) {
            h++;
        }
        return (short) h;
    }

    public static float bf16ToFloat(short b) {
        return Float.intBitsToFloat((b & 0xffff) << 16);
    }

    /** Round-to-nearest-even float → bfloat16. */
    public static short floatToBf16(float f) {
        int x = Float.floatToRawIntBits(f);
        if ((x & 0x7f800000) == 0x7f800000 && (x & 0x7fffff) != 0) {
            return (short) ((x >>> 16) | 0x40);
        }
        int lsb = (x >>> 16) & 1;
        return (short) ((x + 0x7fff + lsb) >>> 16);
    }
}
