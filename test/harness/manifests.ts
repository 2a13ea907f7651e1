/** Manifests the lab tests share (offline test images, short grace periods). */
import { TEST_IMAGE_1 } from './images.js';

/** A bare Pod that sleeps (one container `c`), as YAML. */
export const sleeperPod = (name: string): string => `
apiVersion: v1
kind: Pod
metadata: { name: ${name}, labels: { app: ${name} } }
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: c
      image: ${TEST_IMAGE_1}
      imagePullPolicy: Never
      command: ["sleep", "3600"]
`;
