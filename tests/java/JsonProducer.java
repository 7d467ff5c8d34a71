// A producer that is not kafka-python: the Apache Kafka Java client sends each line of a
// JSON Lines file as one message keyed by its ticket_id, with the compression codec asked
// for, so that the tests read topics as real deployments write them.
//
//   java -cp 'var/kafka/libs/*' tests/java/JsonProducer.java BOOTSTRAP TOPIC CODEC FILE
//
// CODEC is a compression.type (none, gzip, snappy, lz4, zstd). Prints the count sent.

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class JsonProducer {
    public static void main(String[] args) throws Exception {
        if (args.length != 4) {
            System.err.println("usage: JsonProducer BOOTSTRAP TOPIC CODEC FILE");
            System.exit(2);
        }
        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        props.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, args[2]);
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.LINGER_MS_CONFIG, "50"); // batch the lines: one compressed batch
        props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        ObjectMapper json = new ObjectMapper();
        List<Future<RecordMetadata>> sent = new ArrayList<>();
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(props)) {
            for (String line : Files.readAllLines(Path.of(args[3]), StandardCharsets.UTF_8)) {
                if (line.isBlank()) {
                    continue;
                }
                JsonNode ticket = json.readTree(line).get("ticket_id");
                byte[] key = ticket == null ? null : ticket.asText().getBytes(StandardCharsets.UTF_8);
                byte[] value = line.getBytes(StandardCharsets.UTF_8);
                sent.add(producer.send(new ProducerRecord<>(args[1], key, value)));
            }
            producer.flush();
            for (Future<RecordMetadata> result : sent) {
                result.get(30, TimeUnit.SECONDS);
            }
        }
        System.out.println(sent.size());
    }
}
