package dev.sevnet.nn.io;

import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Path;

/** Paths of the committed fixtures under src/test/resources/fixtures. */
final class Fixtures {
    private Fixtures() {
    }

    static Path path(String relative) {
        URL u = Fixtures.class.getResource("/fixtures/" + relative);
        if (u == null) {
            throw new IllegalStateException("missing test fixture fixtures/" + relative);
        }
        try {
            return Path.of(u.toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }
}
