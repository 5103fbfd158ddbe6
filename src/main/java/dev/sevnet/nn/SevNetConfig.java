package dev.sevnet.nn;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What to build: block variant, group width g, class count K and head dropout p. Immutable; build
 * with {@link #builder()} or {@link #parse}. Defaults: SEVNet, g = 8, K = 174 (Something-Something),
 * p = 0.5 (the paper's rate for small and medium datasets).
 */
public final class SevNetConfig {
    /** Block structure; the model name prefix of each is given by {@link #prefix()}. */
    public enum Variant {
        /** The SEV module: 1×1×1, grouped 1×3×3, 3×1×1, all at the block's width. */
        SEVNET("sevnet"),
        /** SEV modules with a squeeze-excite unit (reduction 4) on the residual branch. */
        SEVNET_SE("sevnet-se"),
        /** Ablation: 1×1×1 to C/2, dense 1×3×3 at C/2, 3×1×1 back to C. */
        R2PLUS1D("r2plus1d"),
        /** Ablation: 1×1×1 to round(C/2.6), dense 3×3×3, 1×1×1 back to C. */
        R3D("r3d");

        private final String prefix;

        Variant(String prefix) {
            this.prefix = prefix;
        }

        public String prefix() {
            return prefix;
        }

        public boolean hasSqueezeExcite() {
            return this == SEVNET_SE;
        }
    }

    private static final Pattern NAME = Pattern.compile("(sevnet-se|sevnet|r2plus1d|r3d)-g(\\d+)");

    private final Variant variant;
    private final int groupWidth;
    private final int numClasses;
    private final double dropout;

    private SevNetConfig(Builder b) {
        if (b.groupWidth < 1) {
            throw new IllegalArgumentException("group width g must be >= 1, got " + b.groupWidth);
        }
        if (b.numClasses < 1) {
            throw new IllegalArgumentException("class count must be >= 1, got " + b.numClasses);
        }
        if (!(b.dropout >= 0 && b.dropout < 1)) {
            throw new IllegalArgumentException("dropout must be in [0, 1), got " + b.dropout);
        }
        this.variant = b.variant;
        this.groupWidth = b.groupWidth;
        this.numClasses = b.numClasses;
        this.dropout = b.dropout;
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * Parses a model name: {@code sevnet-g<g>}, {@code sevnet-se-g<g>}, {@code r2plus1d-g<g>} or
     * {@code r3d-g<g>} (any g >= 1), with the default class count and dropout.
     */
    public static SevNetConfig parse(String model) {
        return parseInto(model, builder()).build();
    }

    /** {@link #parse} with a class count. */
    public static SevNetConfig parse(String model, int numClasses) {
        return parseInto(model, builder()).numClasses(numClasses).build();
    }

    private static Builder parseInto(String model, Builder b) {
        Matcher m = NAME.matcher(model.trim().toLowerCase(Locale.ROOT));
        if (!m.matches()) {
            throw new IllegalArgumentException("unknown model '" + model
                    + "': expected sevnet-g<g>, sevnet-se-g<g>, r2plus1d-g<g> or r3d-g<g> (e.g. sevnet-g8)");
        }
        Variant v = switch (m.group(1)) {
            case "sevnet" -> Variant.SEVNET;
            case "sevnet-se" -> Variant.SEVNET_SE;
            case "r2plus1d" -> Variant.R2PLUS1D;
            default -> Variant.R3D;
        };
        int g;
        try {
            g = Integer.parseInt(m.group(2));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("group width in '" + model + "' is too large", e);
        }
        return b.variant(v).groupWidth(g);
    }

    public Variant variant() {
        return variant;
    }

    /** Channels per group of every grouped convolution. */
    public int groupWidth() {
        return groupWidth;
    }

    public int numClasses() {
        return numClasses;
    }

    public double dropout() {
        return dropout;
    }

    /** The model name, e.g. {@code sevnet-g8}; {@link #parse} reads it back. */
    public String modelName() {
        return variant.prefix() + "-g" + groupWidth;
    }

    /** Width of stage s (0..3): {@code 8g * 2^s}. */
    public int stageWidth(int s) {
        return 8 * groupWidth << s;
    }

    public Builder toBuilder() {
        return new Builder().variant(variant).groupWidth(groupWidth).numClasses(numClasses).dropout(dropout);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SevNetConfig c && c.variant == variant && c.groupWidth == groupWidth
                && c.numClasses == numClasses && Double.compare(c.dropout, dropout) == 0;
    }

    @Override
    public int hashCode() {
        return ((variant.hashCode() * 31 + groupWidth) * 31 + numClasses) * 31 + Double.hashCode(dropout);
    }

    @Override
    public String toString() {
        return modelName() + " (" + numClasses + " classes, dropout " + dropout + ")";
    }

    /** Builder for {@link SevNetConfig}. */
    public static final class Builder {
        private Variant variant = Variant.SEVNET;
        private int groupWidth = 8;
        private int numClasses = 174;
        private double dropout = 0.5;

        public Builder variant(Variant v) {
            this.variant = java.util.Objects.requireNonNull(v, "variant");
            return this;
        }

        public Builder groupWidth(int g) {
            this.groupWidth = g;
            return this;
        }

        public Builder numClasses(int k) {
            this.numClasses = k;
            return this;
        }

        public Builder dropout(double p) {
            this.dropout = p;
            return this;
        }

        public SevNetConfig build() {
            return new SevNetConfig(this);
        }
    }
}
