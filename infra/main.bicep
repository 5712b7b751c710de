// twitch-pipeline in Azure: storage (the lake), monitoring, Key Vault, the Function App
// (custom handler, Flex Consumption, system identity) and Event Grid.
//
// Two phases, because the Event Grid subscription needs the `blobs_extension` system
// key, which exists only once the code is deployed (see infra/README.md):
//   1. deploy with deployEventSubscription = false; zip-deploy the app;
//   2. read the key, deploy again with deployEventSubscription = true and the key.

targetScope = 'resourceGroup'

@description('Region of every resource.')
param location string = resourceGroup().location

@description('Short lowercase prefix for resource names (3-11 letters or digits).')
@minLength(3)
@maxLength(11)
param namePrefix string

@description('Twitch application client id.')
param twitchClientId string

@secure()
@minLength(1)
@description('Twitch application client secret; stored in Key Vault, referenced by the app.')
param twitchClientSecret string

@description('Snowflake account identifier (ORG-ACCOUNT).')
param snowflakeAccount string

@description('Snowflake service user (snowflake-setup creates it).')
param snowflakeUser string = 'TWITCH_PIPELINE_SVC'

@description('Snowflake role of the service user.')
param snowflakeRole string = 'TWITCH_PIPELINE'

@description('Snowflake virtual warehouse.')
param snowflakeWarehouse string

@description('Snowflake database.')
param snowflakeDatabase string

@secure()
@minLength(1)
@description('The service user\'s private key (PKCS#8 PEM); stored in Key Vault, referenced by the app.')
param snowflakePrivateKey string

@description('Redundancy of the storage account holding the lake (storage.bicep lists the choices).')
param lakeRedundancy string = 'Standard_LRS'

@description('Who the alerts email (a failing function, missed slots, Snowpipe errors, failed data tests, poisoned messages).')
param alertEmail string

@description('Phase two: subscribe blob_trigger to the lake\'s new manifests.')
param deployEventSubscription bool = false

@secure()
@description('Phase two: the app\'s blobs_extension system key.')
param blobsExtensionKey string = ''

var suffix = uniqueString(resourceGroup().id, namePrefix)

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    location: location
    name: toLower('${namePrefix}${take(suffix, 13)}')
    redundancy: lakeRedundancy
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    location: location
    name: '${namePrefix}-${suffix}'
  }
}

module vault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  params: {
    location: location
    name: '${namePrefix}-kv-${take(suffix, 8)}'
    twitchClientSecret: twitchClientSecret
    snowflakePrivateKey: snowflakePrivateKey
  }
}

module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  params: {
    location: location
    namePrefix: namePrefix
    appInsightsId: monitoring.outputs.appInsightsId
    workspaceId: monitoring.outputs.workspaceId
    storageAccountName: storage.outputs.name
    alertEmail: alertEmail
  }
}

module app 'modules/functionapp.bicep' = {
  name: 'functionapp'
  params: {
    location: location
    name: '${namePrefix}-func-${suffix}'
    storageAccountName: storage.outputs.name
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    appInsightsConnectionString: monitoring.outputs.connectionString
    keyVaultName: vault.outputs.name
    twitchClientSecretUri: vault.outputs.twitchClientSecretUri
    snowflakePrivateKeyUri: vault.outputs.snowflakePrivateKeyUri
    twitchClientId: twitchClientId
    snowflakeAccount: snowflakeAccount
    snowflakeUser: snowflakeUser
    snowflakeRole: snowflakeRole
    snowflakeWarehouse: snowflakeWarehouse
    snowflakeDatabase: snowflakeDatabase
    lakeContainer: storage.outputs.lakeContainer
  }
}

module events 'modules/eventgrid.bicep' = {
  name: 'eventgrid'
  params: {
    location: location
    name: '${namePrefix}-lake-events'
    storageAccountName: storage.outputs.name
    lakeContainer: storage.outputs.lakeContainer
    deadLetterContainer: storage.outputs.deadLetterContainer
    functionAppHostName: app.outputs.hostName
    deploySubscription: deployEventSubscription
    blobsExtensionKey: blobsExtensionKey
  }
}

output functionAppName string = app.outputs.name
output storageAccountName string = storage.outputs.name
output lakeContainer string = storage.outputs.lakeContainer
output deploymentContainerUrl string = storage.outputs.deploymentContainerUrl
