package dev.sevnet.data;

import java.util.List;

/**
 * Records read from a dataset's annotations plus its class names (index = label). Class names may
 * be synthetic ({@code class_0, class_1, ...}) where the format carries no names.
 */
public record AnnotationList(List<VideoRecord> records, List<String> classNames) {
    public AnnotationList {
        records = List.copyOf(records);
        classNames = List.copyOf(classNames);
    }

    public int numClasses() {
        return classNames.size();
    }

    public int size() {
        return records.size();
    }
}
