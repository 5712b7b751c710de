// The lake's storage account: the `raw` container (the lake), `deployments` (the
// Flex Consumption app's package), `deadletter` (manifest events Event Grid could
// not deliver) and the `jobs` queue (manual jobs the `run` function accepted, which
// `run_job` runs). No public access, TLS 1.2, HTTPS only.

param location string

@description('Storage account name (3-24 lowercase letters or digits).')
param name string

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    // Identities only: the app, Snowflake's integration and operators use Entra ID.
    allowSharedKeyAccess: false
  }
}

resource blobs 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource lake 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobs
  name: 'raw'
  properties: {
    publicAccess: 'None'
  }
}

resource deployments 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobs
  name: 'deployments'
  properties: {
    publicAccess: 'None'
  }
}

// Event Grid writes here an event whose delivery ran out of retries or time: the slot
// it names was committed but never submitted (the hourly run submits it again).
resource deadLetter 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobs
  name: 'deadletter'
  properties: {
    publicAccess: 'None'
  }
}

resource queues 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: account
  name: 'default'
}

// run/function.json's queue output and run_job/function.json's trigger ("queueName":
// "jobs"). The host would create it on first use; created here so it exists before.
resource jobs 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = {
  parent: queues
  name: 'jobs'
}

output name string = account.name
output id string = account.id
output lakeContainer string = lake.name
output deploymentContainerUrl string = '${account.properties.primaryEndpoints.blob}${deployments.name}'
output deadLetterContainer string = deadLetter.name
