import { dummy } from "../adapters/dummy.ts";
import { describeBackendConformance } from "./conformance/backend-conformance.ts";

describeBackendConformance("dummy", { storesNothing: true, create: () => ({ backend: dummy(), advance() {} }) });
