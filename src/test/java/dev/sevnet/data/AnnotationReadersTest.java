package dev.sevnet.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

class AnnotationReadersTest {
    @TempDir
    Path dir;

    private Path file(String name, String text) throws IOException {
        Path p = dir.resolve(name);
        Files.writeString(p, text);
        return p;
    }

    @Test
    void mmactionVideoListWithMultiLabelLines() throws IOException {
        List<VideoRecord> r = AnnotationReaders.readVideoList(file("train.txt",
                "a/x.mp4 3\n\n# comment\nb/y.mp4 1 4 7\n"));
        assertEquals(2, r.size());
        assertEquals("a/x.mp4", r.get(0).path());
        assertEquals(-1, r.get(0).totalFrames());
        assertArrayEquals(new int[] {3}, r.get(0).labels());
        assertArrayEquals(new int[] {1, 4, 7}, r.get(1).labels());
        assertEquals(Path.of("/data/b/y.mp4"), r.get(1).resolve(Path.of("/data")));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> AnnotationReaders.readVideoList(file("bad.txt", "ok.mp4 1\nbroken.mp4 x\n")));
        assertTrue(e.getMessage().contains("bad.txt:2"), e.getMessage());
    }

    @Test
    void mmactionFrameList() throws IOException {
        List<VideoRecord> r = AnnotationReaders.readFrameList(file("f.txt", "vid/001 120 5\nvid/002 64 2 9\n"));
        assertEquals(new VideoRecord("vid/001", 120, new int[] {5}), r.get(0));
        assertEquals(64, r.get(1).totalFrames());
        assertArrayEquals(new int[] {2, 9}, r.get(1).labels());
        assertThrows(IllegalArgumentException.class, () -> AnnotationReaders.readFrameList(file("g.txt", "vid 12\n")));
    }

    @Test
    void somethingSomethingV1() throws IOException {
        Path labels = file("something-something-v1-labels.csv",
                "Holding something\nPushing something from left to right\nPushing something from right to left\n");
        Path csv = file("something-something-v1-train.csv",
                "100218;Pushing something from right to left\n24;Holding something\n");
        AnnotationList a = AnnotationReaders.readSomethingV1(csv, labels);
        assertEquals(3, a.numClasses());
        assertEquals("100218", a.records().get(0).path());
        assertEquals(2, a.records().get(0).label());
        assertEquals(0, a.records().get(1).label());
        assertThrows(IllegalArgumentException.class, () -> AnnotationReaders.readSomethingV1(
                file("bad.csv", "1;Unknown class\n"), labels));
    }

    @Test
    void somethingSomethingV2RemovesTemplateBrackets() throws IOException {
        Path labels = file("labels.json", """
                {"Approaching something with your camera": "0",
                 "Holding something next to something": "1",
                 "Putting something on a surface": "2"}
                """);
        Path train = file("train.json", """
                [{"id": "78687", "label": "holding potato next to vicks vaporub bottle",
                  "template": "Holding [something] next to [something]", "placeholders": ["potato", "bottle"]},
                 {"id": "42326", "label": "putting a cup on a table",
                  "template": "Putting [something] on a surface", "placeholders": ["a cup"]}]
                """);
        AnnotationList a = AnnotationReaders.readSomethingV2(train, labels, ".webm");
        assertEquals(List.of("Approaching something with your camera", "Holding something next to something",
                "Putting something on a surface"), a.classNames());
        assertEquals("78687.webm", a.records().get(0).path());
        assertEquals(1, a.records().get(0).label());
        assertEquals(2, a.records().get(1).label());
        AnnotationList test = AnnotationReaders.readSomethingV2(file("test.json", "[{\"id\": \"1\"}]"), labels, ".webm");
        assertEquals(0, test.records().get(0).labelCount());
    }

    @Test
    void kineticsCsvSortsClassesAndBuildsClipNames() throws IOException {
        Path csv = file("train.csv", """
                label,youtube_id,time_start,time_end,split
                zumba,abc123,15,25,train
                abseiling,--07WQ2iBlw,1,11,train
                playing guitar,xyz,0,10,train
                """);
        AnnotationList a = AnnotationReaders.readKinetics(csv, null);
        assertEquals(List.of("abseiling", "playing guitar", "zumba"), a.classNames());
        assertEquals("zumba/abc123_000015_000025.mp4", a.records().get(0).path());
        assertEquals(2, a.records().get(0).label());
        assertEquals("abseiling/--07WQ2iBlw_000001_000011.mp4", a.records().get(1).path());
        assertEquals(1, a.records().get(2).label());
        // validation uses the train classes
        Path val = file("val.csv", "label,youtube_id,time_start,time_end,split\nzumba,q,3,13,val\n");
        assertEquals(2, AnnotationReaders.readKinetics(val, a.classNames()).records().get(0).label());
    }

    @Test
    void fineGymElementLists() throws IOException {
        Path list = file("gym99_train_element_v1.1.txt",
                "A0xAXXysHUo_E_002407_002435_A_0003_0005 12\nA0xAXXysHUo_E_002407_002435_A_0006_0008 98\n");
        AnnotationList a = AnnotationReaders.readFineGym(list, 99, ".mp4");
        assertEquals(99, a.numClasses());
        assertEquals("A0xAXXysHUo_E_002407_002435_A_0003_0005.mp4", a.records().get(0).path());
        assertEquals(98, a.records().get(1).label());
        assertThrows(IllegalArgumentException.class, () -> AnnotationReaders.readFineGym(list, 50, ".mp4"));
    }

    @Test
    void mmitCsvIsMultiLabel() throws IOException {
        Path cats = file("moments_categories.txt", "adult+female+singing,0\nbathing,1\nbiking,2\n");
        Path csv = file("trainingSet.csv", "singing/a.mp4,0,2\nbiking/b.mp4,2,\n");
        List<String> names = AnnotationReaders.readMmitCategories(cats);
        assertEquals(List.of("adult+female+singing", "bathing", "biking"), names);
        AnnotationList a = AnnotationReaders.readMmit(csv, names);
        assertArrayEquals(new int[] {0, 2}, a.records().get(0).labels());
        assertArrayEquals(new int[] {2}, a.records().get(1).labels());
        assertEquals(3, AnnotationReaders.readMmit(csv, null).numClasses());
    }

    /** The call must fail with a message naming the file (and line) and the problem. */
    private static IllegalArgumentException assertBad(String fileName, String mustContain, Executable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().contains(fileName), e.getMessage());
        assertTrue(e.getMessage().contains(mustContain), e.getMessage());
        return e;
    }

    @Test
    void labelNamesRefuseABlankLineThatWouldShiftLaterClasses() throws IOException {
        assertEquals(List.of("a", "b"), AnnotationReaders.readLabelNames(file("names.txt", "\uFEFFa\nb\n\n \n")));
        assertBad("gap.txt:2", "blank", () -> AnnotationReaders.readLabelNames(file("gap.txt", "a\n\nb\n")));
        assertBad("lead.txt:1", "blank", () -> AnnotationReaders.readLabelNames(file("lead.txt", "\na\n")));
    }

    private Path ssv2Labels() throws IOException {
        return file("labels.json", "{\"Holding something\": \"0\", \"Pushing something\": 1}");
    }

    @Test
    void somethingSomethingV2AcceptsStringAndIntegerIds() throws IOException {
        AnnotationList a = AnnotationReaders.readSomethingV2(file("ids.json",
                "[{\"id\": \"1234\", \"template\": \"Holding [something]\"}, {\"id\": 99, \"template\": \"Pushing [something]\"}]"),
                ssv2Labels(), ".webm");
        assertEquals("1234.webm", a.records().get(0).path());
        assertEquals("99.webm", a.records().get(1).path());
        assertEquals(1, a.records().get(1).label());
    }

    @Test
    void somethingSomethingV2RefusesMalformedEntries() throws IOException {
        Path labels = ssv2Labels();
        String[][] cases = {
            {"[{\"template\": \"Holding [something]\"}]", "entry 0", "id"},
            {"[{\"id\": null}]", "entry 0", "id"},
            {"[{\"id\": {\"a\": 1}}]", "entry 0", "id"},
            {"[{\"id\": [\"1\"]}]", "entry 0", "id"},
            {"[{\"id\": true}]", "entry 0", "id"},
            {"[{\"id\": 1.5}]", "entry 0", "id"},
            {"[{\"id\": \" \"}]", "entry 0", "id"},
            {"[{\"id\": \"1\"}, {\"id\": \"2\", \"template\": null}]", "entry 1", "template"},
            {"[{\"id\": \"1\", \"template\": [\"Holding [something]\"]}]", "entry 0", "template"},
            {"[{\"id\": \"1\", \"template\": 3}]", "entry 0", "template"},
            {"[{\"id\": \"1\"}, 1]", "entry 1", "object"},
            {"{\"id\": \"1\"}", "ssv2.json", "array"},
        };
        for (String[] c : cases) {
            Path json = file("ssv2.json", c[0]);
            IllegalArgumentException e = assertBad("ssv2.json", c[1],
                    () -> AnnotationReaders.readSomethingV2(json, labels, ".webm"));
            assertTrue(e.getMessage().contains(c[2]), c[0] + " -> " + e.getMessage());
        }
    }

    @Test
    void somethingSomethingV2RefusesMalformedLabelIndices() throws IOException {
        Path train = file("t.json", "[{\"id\": \"1\"}]");
        for (String bad : new String[] {"\"zero\"", "\"1.0\"", "1.5", "null", "[0]", "{}", "true"}) {
            assertBad("badlabels.json", "Holding", () -> AnnotationReaders.readSomethingV2(train,
                    file("badlabels.json", "{\"Holding something\": " + bad + "}"), ".webm"));
        }
        assertBad("arr.json", "object", () -> AnnotationReaders.readSomethingV2(train, file("arr.json", "[]"), ".webm"));
    }

    @Test
    void kineticsRefusesTimesThatDoNotMakeAClipName() throws IOException {
        String[] bad = {"ten,20", "NaN,10", "Infinity,10", "-1,9", "0,-5", "20,10", "999999.6,1000000", "0,1e12", "-Infinity,1"};
        for (String times : bad) {
            assertBad("k.csv:3", "time", () -> AnnotationReaders.readKinetics(file("k.csv",
                    "label,youtube_id,time_start,time_end,split\nzumba,ok,0,10,train\nzumba,abc," + times + ",train\n"), null));
        }
        assertEquals("zumba/abc_999990_999999.mp4", AnnotationReaders.readKinetics(file("edge.csv",
                "zumba,abc,999990,999999,train\n"), null).records().get(0).path());
        assertBad("noid.csv:1", "youtube_id", () -> AnnotationReaders.readKinetics(file("noid.csv", "zumba,,0,10,train\n"), null));
    }

    @Test
    void kineticsHeaderIsRecognisedByColumnNames() throws IOException {
        Path quoted = file("quoted.csv", """
                "Label","YouTube_ID","time_start","time_end","split","is_cc"
                "playing guitar","xyz","0","10","train","0"
                """);
        AnnotationList q = AnnotationReaders.readKinetics(quoted, null);
        assertEquals(List.of("playing guitar"), q.classNames());
        assertEquals("playing guitar/xyz_000000_000010.mp4", q.records().get(0).path());

        Path reordered = file("reordered.csv", "youtube_id,time_end,label,time_start\nabc,25,zumba,15\n");
        assertEquals("zumba/abc_000015_000025.mp4", AnnotationReaders.readKinetics(reordered, null).records().get(0).path());

        // the Kinetics-400 test split has no label column
        Path test = file("test.csv", "youtube_id,time_start,time_end,split\n--07WQ2iBlw,1,11,test\nabc,3,13,test\n");
        AnnotationList t = AnnotationReaders.readKinetics(test, List.of("abseiling", "zumba"));
        assertEquals(2, t.size());
        assertEquals(new VideoRecord("--07WQ2iBlw_000001_000011.mp4", -1, new int[0]), t.records().get(0));
        assertEquals(0, AnnotationReaders.kineticsClasses(test).size());

        // no header: positional, as before
        assertEquals(1, AnnotationReaders.readKinetics(file("plain.csv", "abseiling,a,0,10,train\nzumba,b,0,10,train\n"),
                null).records().get(1).label());
        assertBad("nostart.csv:1", "time_start", () -> AnnotationReaders.readKinetics(
                file("nostart.csv", "label,youtube_id,time_end\nzumba,abc,10\n"), null));
        assertBad("short.csv:2", "expected", () -> AnnotationReaders.readKinetics(
                file("short.csv", "youtube_id,time_start,time_end,label\nabc,0,10\n"), null));
    }

    @Test
    void recordsAreImmutable() {
        int[] labels = {1, 2};
        VideoRecord r = new VideoRecord("x.mp4", -1, labels);
        labels[0] = 9;
        r.labels()[1] = 9;
        assertArrayEquals(new int[] {1, 2}, r.labels());
        assertThrows(IllegalArgumentException.class, () -> new VideoRecord("x.mp4", -1, new int[] {-1}));
    }
}
